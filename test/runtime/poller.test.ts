import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/log/index.ts';
import { type LocalQueues, startLocalQueues } from '../../shared/runtime/local-queue.ts';
import { type QueueEvent, startQueuePoller } from '../../shared/runtime/poller.ts';

describe('local queue poller', () => {
  let queues: LocalQueues;
  beforeAll(async () => {
    queues = await startLocalQueues({ channels: ['slack'], maxReceiveCount: 2 });
  });
  afterAll(() => queues?.close());

  it('hands batches to the handler as SQS events, deletes successes and redrives repeated failures to the DLQ', async () => {
    const queueUrl = queues.queueUrls.slack!;
    for (const body of ['ok-1', 'fail', 'ok-2'])
      await queues.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    const seen: string[] = [];
    const poller = startQueuePoller({
      client: queues.client,
      queueUrl,
      logger: silentLogger,
      retryDelaySeconds: 0,
      handler: async (event: QueueEvent) => {
        for (const record of event.Records) {
          expect(record.eventSource).toBe('aws:sqs');
          seen.push(`${record.body}#${record.attributes.ApproximateReceiveCount}`);
        }
        return { batchItemFailures: event.Records.filter((r) => r.body === 'fail').map((r) => ({ itemIdentifier: r.messageId })) };
      },
    });
    await expect.poll(() => seen.filter((s) => s.startsWith('fail')).length, { timeout: 15_000 }).toBe(2);
    await poller.stop();
    expect(seen).toContain('ok-1#1');
    expect(seen).toContain('ok-2#1');
    expect(seen.filter((s) => s.startsWith('ok'))).toHaveLength(2);
    // The failed message was received twice (maxReceiveCount 2); the next receive moves it to the DLQ.
    await queues.client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }));
    const dlq = await queues.client.send(new ReceiveMessageCommand({ QueueUrl: queues.dlqUrl, WaitTimeSeconds: 1 }));
    expect(dlq.Messages?.map((m) => m.Body)).toEqual(['fail']);
    const left = await queues.client.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    expect(left.Attributes?.ApproximateNumberOfMessages).toBe('0');
  });
});
