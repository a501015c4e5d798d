import { type BatchResultErrorEntry, SendMessageBatchCommand, type SendMessageBatchRequestEntry, SQSClient } from '@aws-sdk/client-sqs';
import type { Channel, DeliveryMessage } from '../alerts/index.ts';
import { mapWithConcurrency } from '../concurrency/index.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import { describeError } from '../redact/index.ts';
import { DeliveryQueueError, DeliveryUsageError } from './errors.ts';
import type { AlertQueue } from './queue.ts';

/** SendMessageBatch takes at most 10 entries: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html */
const SQS_BATCH_LIMIT = 10;

export interface SqsQueueOptions {
  /** One queue for every channel, or one queue per channel (each with its own sender and DLQ redrive policy). */
  queueUrl: string | Partial<Record<Channel, string>>;
  /** A client to use (tests, shared clients). Default: a new `SQSClient` from `region` and `endpoint`. */
  client?: SQSClient;
  region?: string;
  /** A non-AWS endpoint (an SQS emulator on loopback). */
  endpoint?: string;
  /** Attempts for entries SQS reports failed without a sender fault (throttling, internal errors). Default 3. */
  attempts?: number;
  /** Batches in flight at once. Default 4. */
  concurrency?: number;
  logger?: Logger;
  /** For tests: the wait before re-sending failed entries. Default 100 ms × attempt. */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * The SQS adapter of the queue port: messages as JSON bodies, sent with SendMessageBatch in batches of 10.
 * Entries SQS reports failed are sent again (up to `attempts`) unless the fault is ours (`SenderFault`); what still
 * fails is raised as a `DeliveryQueueError` listing those delivery ids. Dead-lettering is the queue's own redrive
 * policy, not this adapter's business. `close()` releases a client this adapter created.
 *
 * @example createSqsQueue({ queueUrl: config.queue.url, region: config.queue.region, endpoint: config.queue.endpoint })
 */
export function createSqsQueue(options: SqsQueueOptions): AlertQueue & { close(): void } {
  const urls = typeof options.queueUrl === 'string' ? undefined : options.queueUrl;
  if (typeof options.queueUrl === 'string' ? options.queueUrl.length === 0 : Object.values(options.queueUrl).every((url) => !url)) {
    throw new DeliveryUsageError('queueUrl', 'an SQS queue URL is required (a string, or one per channel like { slack: "https://sqs…" })');
  }
  const ownClient = !options.client;
  const client =
    options.client ??
    new SQSClient({ ...(options.region ? { region: options.region } : {}), ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
  const attempts = Math.max(1, options.attempts ?? 3);
  const logger = options.logger ?? silentLogger;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  const urlFor = (channel: Channel): string => {
    const url = urls ? urls[channel] : (options.queueUrl as string);
    if (!url)
      throw new DeliveryUsageError('queueUrl', `no queue URL for channel "${channel}" (configured: ${Object.keys(urls ?? {}).join(', ')})`);
    return url;
  };

  /** Sends one batch (≤ 10, one queue); resolves to the delivery ids that could not be queued, with reasons. */
  const sendBatch = async (url: string, batch: readonly DeliveryMessage[]): Promise<Array<{ id: string; reason: string }>> => {
    let pending = batch.map((message, i) => ({ entryId: `m${i}`, message }));
    const refused: Array<{ id: string; reason: string }> = [];
    let reasons = new Map<string, string>();
    for (let attempt = 1; attempt <= attempts && pending.length > 0; attempt++) {
      if (attempt > 1) await sleep(100 * (attempt - 1));
      const entries: SendMessageBatchRequestEntry[] = pending.map(({ entryId, message }) => ({
        Id: entryId,
        MessageBody: JSON.stringify(message),
        MessageAttributes: {
          channel: { DataType: 'String', StringValue: message.channel },
          rule: { DataType: 'String', StringValue: message.event.rule },
        },
      }));
      let failed: BatchResultErrorEntry[];
      try {
        failed = (await client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }))).Failed ?? [];
      } catch (error) {
        // The SDK has retried the call itself already; the whole batch is unsent this time.
        const reason = describeError(error);
        reasons = new Map(pending.map(({ message }) => [message.deliveryId, reason]));
        logger.warn('SQS SendMessageBatch failed', { attempt, entries: pending.length, error: reason });
        continue;
      }
      const byEntry = new Map(pending.map((entry) => [entry.entryId, entry]));
      const retry: typeof pending = [];
      reasons = new Map();
      for (const entry of failed) {
        const original = entry.Id ? byEntry.get(entry.Id) : undefined;
        if (!original) continue;
        const reason = `${entry.Code ?? 'error'}: ${entry.Message ?? 'no message'}`;
        // A sender fault (too large, invalid) fails the same way every time: it is not sent again.
        if (entry.SenderFault) refused.push({ id: original.message.deliveryId, reason });
        else {
          retry.push(original);
          reasons.set(original.message.deliveryId, reason);
        }
      }
      if (failed.length > 0) logger.warn('SQS refused some entries', { attempt, failed: failed.length, reason: failed[0]?.Code });
      pending = retry;
    }
    return [
      ...refused,
      ...pending.map(({ message }) => ({ id: message.deliveryId, reason: reasons.get(message.deliveryId) ?? 'not accepted by SQS' })),
    ];
  };

  return {
    async publish(messages) {
      if (messages.length === 0) return;
      const batches: Array<{ url: string; messages: DeliveryMessage[] }> = [];
      const open = new Map<string, DeliveryMessage[]>();
      for (const message of messages) {
        const url = urlFor(message.channel);
        let batch = open.get(url);
        if (!batch || batch.length === SQS_BATCH_LIMIT) {
          batch = [];
          open.set(url, batch);
          batches.push({ url, messages: batch });
        }
        batch.push(message);
      }
      const failures: Array<{ id: string; reason: string }> = [];
      await mapWithConcurrency(batches, options.concurrency ?? 4, async (batch) => {
        failures.push(...(await sendBatch(batch.url, batch.messages)));
      });
      if (failures.length > 0) {
        const reasons = [...new Set(failures.map((failure) => failure.reason))].slice(0, 3);
        throw new DeliveryQueueError(
          `SQS did not accept ${failures.length} of ${messages.length} deliveries: ${reasons.join('; ')}`,
          failures.map((failure) => failure.id),
        );
      }
    },
    close() {
      if (ownClient) client.destroy();
    },
  };
}
