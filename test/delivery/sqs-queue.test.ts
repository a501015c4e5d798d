import { type Message, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DeliveryMessage, deliveryMessageSchema } from '../../shared/alerts/index.ts';
import {
  createAlertDelivery,
  createSqsQueue,
  DeliveryQueueError,
  DeliveryUsageError,
  processDeliveryBatch,
  sweepDeliveries,
} from '../../shared/delivery/index.ts';
import { createSlackNotifier } from '../../shared/notifiers/index.ts';
import { type SlackFake, startSlackFake } from '../harness/fakes/slack.ts';
import { type SqsFake, startSqsFake } from '../harness/fakes/sqs.ts';
import { createTestClock, type Ledger, scriptedNotifier, startLedger, testEvent } from './helpers.ts';

const MAX_RECEIVE = 3;

describe('SQS queue adapter against fauxqs', () => {
  let ledger: Ledger;
  let sqs: SqsFake;
  let slackFake: SlackFake;

  beforeAll(async () => {
    [ledger, sqs, slackFake] = await Promise.all([startLedger(), startSqsFake({ maxReceiveCount: MAX_RECEIVE }), startSlackFake()]);
  });
  beforeEach(async () => {
    await ledger.reset();
    // Drain both queues so each test starts empty.
    for (const url of [sqs.queueUrl, sqs.dlqUrl]) await receiveAll(url);
    slackFake.received.length = 0;
  });
  afterAll(async () => {
    await Promise.all([ledger?.close(), sqs?.close(), slackFake?.close()]);
  });

  /** Receives and deletes everything in a queue (the queue's visibility timeout is 0, so kept messages would come back). */
  async function receiveAll(url: string): Promise<Message[]> {
    const all: Message[] = [];
    for (let batch = await sqs.receive(url); batch.length > 0; batch = await sqs.receive(url)) {
      all.push(...batch);
      await sqs.remove(url, batch);
    }
    return all;
  }

  /** What Lambda's event source mapping does: hand a batch to the sender, delete what it did not report failed. */
  const consume = async (deps: Omit<Parameters<typeof processDeliveryBatch>[1], 'db'>) => {
    const messages = await sqs.receive(sqs.queueUrl);
    const result = await processDeliveryBatch(
      messages.map((m) => ({ messageId: m.MessageId as string, body: m.Body as string })),
      { db: ledger.db, ...deps },
    );
    const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
    await sqs.remove(
      sqs.queueUrl,
      messages.filter((m) => !failed.has(m.MessageId as string)),
    );
    return { messages, result };
  };

  it('sends 25 deliveries as SendMessageBatch calls of 10, 10 and 5, each body a valid delivery message', async () => {
    const batchSizes: number[] = [];
    sqs.client.middlewareStack.add(
      (next) => async (args) => {
        const entries = (args.input as { Entries?: unknown[] }).Entries;
        if (entries) batchSizes.push(entries.length);
        return next(args);
      },
      { step: 'initialize', name: 'countBatches' },
    );
    const queue = createSqsQueue({ queueUrl: sqs.queueUrl, client: sqs.client, concurrency: 1 });
    const time = createTestClock();
    const publisher = createAlertDelivery({ db: ledger.db, queue, notifiers: { slack: scriptedNotifier('slack') }, clock: time.clock });
    const events = Array.from({ length: 25 }, (_, i) => testEvent({ summary: `event ${i}` }, time.clock));
    try {
      expect(await publisher.publish(events)).toEqual({ published: 25, deliveries: 25 });
    } finally {
      sqs.client.middlewareStack.remove('countBatches');
    }
    expect(batchSizes).toEqual([10, 10, 5]);

    const bodies = (await receiveAll(sqs.queueUrl)).map((m) => deliveryMessageSchema.parse(JSON.parse(m.Body as string)));
    expect(bodies.map((b) => b.event.summary).sort()).toEqual(events.map((e) => e.summary).sort());
    const rows = await ledger.rows();
    expect(new Set(bodies.map((b) => b.deliveryId))).toEqual(new Set(rows.map((r) => r.id)));
    expect(rows.map((r) => r.status)).toEqual(rows.map(() => 'pending'));
  });

  it('delivers through the queue to the real Slack notifier, and redrives a malformed message to the DLQ after maxReceiveCount', async () => {
    const time = createTestClock();
    const slack = createSlackNotifier({ webhookUrl: slackFake.url, clock: time.clock });
    const queue = createSqsQueue({ queueUrl: sqs.queueUrl, client: sqs.client });
    const event = testEvent({ summary: 'replica pg-2 is 40 MB behind' }, time.clock);
    await createAlertDelivery({ db: ledger.db, queue, notifiers: { slack }, clock: time.clock }).publish([event]);
    await sqs.client.send(new SendMessageCommand({ QueueUrl: sqs.queueUrl, MessageBody: '{"v":1,"channel":"slack"}' }));

    const receives: number[] = [];
    for (let round = 0; round < MAX_RECEIVE + 1; round++) {
      const { messages, result } = await consume({ notifiers: { slack }, channel: 'slack', clock: time.clock });
      receives.push(messages.length);
      if (round === 0) {
        expect(result.results.map((r) => r.outcome).sort()).toEqual(['rejected', 'sent']);
        expect(result.batchItemFailures).toHaveLength(1);
      }
    }
    // Round 1 holds both; rounds 2 and 3 only the malformed one; then SQS has moved it to the DLQ.
    expect(receives).toEqual([2, 1, 1, 0]);
    const dead = await receiveAll(sqs.dlqUrl);
    expect(dead.map((m) => m.Body)).toEqual(['{"v":1,"channel":"slack"}']);

    expect(slackFake.received).toHaveLength(1);
    expect(JSON.stringify(slackFake.received[0])).toContain('replica pg-2 is 40 MB behind');
    const [row] = await ledger.rows();
    expect(row).toMatchObject({ status: 'sent', event_id: event.id });
  });

  it('records deliveries the queue refuses as failed and due, so the next sweep publishes them', async () => {
    const time = createTestClock();
    const notifiers = { slack: scriptedNotifier('slack') };
    const missing = createSqsQueue({ queueUrl: `${sqs.endpoint}/000000000000/no-such-queue`, client: sqs.client, sleep: async () => {} });
    const events = [testEvent({ summary: 'first' }, time.clock), testEvent({ summary: 'second' }, time.clock)];
    const publishing = createAlertDelivery({ db: ledger.db, queue: missing, notifiers, clock: time.clock }).publish(events);
    await expect(publishing).rejects.toBeInstanceOf(DeliveryQueueError);
    await expect(publishing).rejects.toThrow(
      /2 of 2 deliveries were not queued; they are recorded as failed and the sweeper will publish them again/,
    );

    const rows = await ledger.rows();
    expect(rows.map((r) => r.status)).toEqual(['failed', 'failed']);
    expect(rows.map((r) => ({ retry_count: r.retry_count, next_retry_at: r.next_retry_at?.getTime() }))).toEqual(
      rows.map(() => ({ retry_count: 0, next_retry_at: time.now().getTime() })),
    );
    expect(rows[0]?.last_error).toMatch(/^not queued: /);

    const queue = createSqsQueue({ queueUrl: sqs.queueUrl, client: sqs.client });
    expect(await sweepDeliveries({ db: ledger.db, queue, clock: time.clock })).toMatchObject({ due: 2, published: 2, unpublished: 0 });
    const { result } = await consume({ notifiers, channel: 'slack', clock: time.clock });
    expect(result.results.map((r) => r.outcome)).toEqual(['sent', 'sent']);
    expect(notifiers.slack.delivered.map((e) => e.summary).sort()).toEqual(['first', 'second']);
  });

  it('routes each channel to its own queue when given one URL per channel, and names a channel without one', async () => {
    const queue = createSqsQueue({ queueUrl: { slack: sqs.queueUrl }, client: sqs.client });
    const event = testEvent();
    const message = (channel: 'slack' | 'loki'): DeliveryMessage => ({ v: 1, deliveryId: crypto.randomUUID(), channel, event });
    await queue.publish([message('slack')]);
    expect(await receiveAll(sqs.queueUrl)).toHaveLength(1);
    await expect(queue.publish([message('loki')])).rejects.toThrow(
      new DeliveryUsageError('queueUrl', 'no queue URL for channel "loki" (configured: slack)'),
    );
  });
});
