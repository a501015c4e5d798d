/**
 * A loopback SQS for tests: the local runtime's own emulator (`startLocalQueues`: `fauxqs` bound to 127.0.0.1,
 * its `.localhost` queue hosts resolved in-process), driven through the real `@aws-sdk/client-sqs`. It holds one
 * alerts queue and its DLQ, joined by a RedrivePolicy: a message received `maxReceiveCount` times without being
 * deleted moves to the DLQ.
 *
 * What it covers (checked in FIELD-NOTES): CreateQueue, SendMessage(Batch), ReceiveMessage (long poll,
 * ApproximateReceiveCount), DeleteMessage(Batch), ChangeMessageVisibility, RedrivePolicy.
 * What it does not cover: IAM and SigV4 verification (any credentials pass), FIFO throughput limits, the 120,000
 * in-flight message limit, server-side encryption, real throttling (it never answers a batch entry with a
 * non-sender fault), and Lambda's event source mapping (tests hand received batches to the sender themselves).
 */
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { startLocalQueues } from '../../../shared/runtime/local-queue.ts';

export interface SqsFake {
  /** `http://127.0.0.1:PORT`: the SDK's `endpoint`. */
  readonly endpoint: string;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  /** A client pointed at the fake, with dummy credentials. */
  readonly client: SQSClient;
  /** Receives up to 10 messages now (no long poll), with their receive count; they stay in flight for `visibilityTimeout`. */
  receive(queueUrl: string): Promise<Message[]>;
  /** Deletes received messages (what Lambda does for records not listed as batch item failures). */
  remove(queueUrl: string, messages: readonly Message[]): Promise<void>;
  close(): Promise<void>;
}

export interface SqsFakeOptions {
  /** Receives before a message moves to the DLQ. Default 3. */
  maxReceiveCount?: number;
  /** Seconds a received message stays hidden. Default 0, so a message not deleted is visible again at once. */
  visibilityTimeout?: number;
}

/** Starts the emulator on 127.0.0.1 at a random port, with an alerts queue and its DLQ. */
export async function startSqsFake(options: SqsFakeOptions = {}): Promise<SqsFake> {
  const queues = await startLocalQueues({
    channels: ['slack'],
    maxReceiveCount: options.maxReceiveCount ?? 3,
    visibilityTimeoutSeconds: options.visibilityTimeout ?? 0,
    prefix: 'pgwarden-test',
  });
  const { client } = queues;
  return {
    endpoint: queues.endpoint,
    queueUrl: queues.queueUrls.slack as string,
    dlqUrl: queues.dlqUrl,
    client,
    async receive(queueUrl) {
      const answer = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
      );
      return answer.Messages ?? [];
    },
    async remove(queueUrl, messages) {
      if (messages.length === 0) return;
      await client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: messages.map((message, i) => ({ Id: `d${i}`, ReceiptHandle: message.ReceiptHandle })),
        }),
      );
    },
    close: queues.close,
  };
}
