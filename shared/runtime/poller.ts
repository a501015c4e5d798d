import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Logger } from '../log/index.ts';
import { describeError } from '../redact/index.ts';

/** The shape of an SQS event record as Lambda delivers it (structurally the `SQSRecord` of aws-lambda). */
export interface QueueEventRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: {
    ApproximateReceiveCount: string;
    SentTimestamp: string;
    SenderId: string;
    ApproximateFirstReceiveTimestamp: string;
  };
  messageAttributes: Record<string, never>;
  md5OfBody: string;
  eventSource: 'aws:sqs';
  eventSourceARN: string;
  awsRegion: string;
}

export interface QueueEvent {
  Records: QueueEventRecord[];
}

export interface BatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

/** A queue consumer as Lambda calls it: an SQS event in, partial batch failures out. */
export type QueueHandler = (event: QueueEvent, context: Record<string, unknown>) => Promise<BatchResponse | undefined>;

export interface QueuePoller {
  stop(): Promise<void>;
}

/**
 * Feeds a queue to a handler the way Lambda's event source mapping does with ReportBatchItemFailures:
 * batches of up to 10, successful records deleted, failed ones left to reappear after `retryDelaySeconds`
 * (and be redriven to the DLQ by the queue after maxReceiveCount). A handler that throws fails the whole batch.
 */
export function startQueuePoller(options: {
  client: SQSClient;
  queueUrl: string;
  queueArn?: string;
  handler: QueueHandler;
  logger: Logger;
  retryDelaySeconds?: number;
  functionName?: string;
}): QueuePoller {
  const { client, queueUrl, handler, logger } = options;
  let stopping = false;
  const controller = new AbortController();
  const loop = (async () => {
    while (!stopping) {
      let messages: Message[];
      try {
        const received = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ['All'],
          }),
          { abortSignal: controller.signal },
        );
        messages = received.Messages ?? [];
      } catch (error) {
        if (stopping) break;
        logger.warn('queue receive failed', { queue: queueUrl, error: describeError(error) });
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      if (messages.length === 0) continue;
      const records: QueueEventRecord[] = messages.map((m) => {
        const attributes: Record<string, string | undefined> = m.Attributes ?? {};
        return {
          messageId: m.MessageId ?? '',
          receiptHandle: m.ReceiptHandle ?? '',
          body: m.Body ?? '',
          attributes: {
            ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
            SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
            SenderId: attributes.SenderId ?? 'local',
            ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
          },
          messageAttributes: {},
          md5OfBody: m.MD5OfBody ?? '',
          eventSource: 'aws:sqs',
          eventSourceARN: options.queueArn ?? `arn:aws:sqs:us-east-1:000000000000:${queueUrl.split('/').pop()}`,
          awsRegion: 'us-east-1',
        };
      });
      let failed: Set<string>;
      try {
        const response = await handler(
          { Records: records },
          { functionName: options.functionName ?? 'local', awsRequestId: crypto.randomUUID() },
        );
        failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      } catch (error) {
        logger.error('queue handler failed; the whole batch returns to the queue', { queue: queueUrl, error: describeError(error) });
        failed = new Set(records.map((r) => r.messageId));
      }
      const done = records.filter((r) => !failed.has(r.messageId));
      const retry = records.filter((r) => failed.has(r.messageId));
      if (done.length > 0) {
        await client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
          }),
        );
      }
      if (retry.length > 0) {
        await client.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: retry.map((r, i) => ({
              Id: String(i),
              ReceiptHandle: r.receiptHandle,
              VisibilityTimeout: options.retryDelaySeconds ?? 2,
            })),
          }),
        );
      }
    }
  })();
  return {
    async stop() {
      stopping = true;
      controller.abort();
      await loop.catch(() => {});
    },
  };
}
