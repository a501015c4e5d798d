import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryMessage } from '../../shared/alerts/index.ts';
import { createAlertDelivery, processDeliveryBatch } from '../../shared/delivery/index.ts';
import { createMemoryLogger } from '../../shared/log/index.ts';
import { clearSecrets, registerSecret } from '../../shared/redact/index.ts';
import { createTestClock, holdingQueue, type Ledger, scriptedNotifier, startLedger, testEvent } from './helpers.ts';

const record = (message: DeliveryMessage, messageId = `sqs-${message.deliveryId}`) => ({ messageId, body: JSON.stringify(message) });

describe('processDeliveryBatch', () => {
  let ledger: Ledger;

  beforeAll(async () => {
    ledger = await startLedger();
  });
  beforeEach(() => ledger.reset());
  afterEach(() => clearSecrets());
  afterAll(() => ledger?.close());

  const enqueue = async (count: number, channels: Array<'slack' | 'loki'> = ['slack']) => {
    const time = createTestClock();
    const queue = holdingQueue();
    const notifiers = Object.fromEntries(channels.map((channel) => [channel, scriptedNotifier(channel)]));
    await createAlertDelivery({ db: ledger.db, queue, notifiers, clock: time.clock }).publish(
      Array.from({ length: count }, (_, i) => testEvent({ summary: `event ${i}` }, time.clock)),
    );
    return { time, messages: queue.messages };
  };

  it('reports 3 malformed bodies of a batch of 10 as batch item failures and delivers the other 7', async () => {
    const { time, messages } = await enqueue(7);
    const records = messages.map((m) => record(m));
    const valid = messages[0] as DeliveryMessage;
    records.splice(2, 0, { messageId: 'bad-json', body: '{"v":1,"deliveryId":' });
    records.splice(5, 0, { messageId: 'bad-shape', body: JSON.stringify({ v: 1, deliveryId: valid.deliveryId, channel: 'slack' }) });
    records.splice(8, 0, { messageId: 'bad-channel', body: JSON.stringify({ ...valid, channel: 'pagerduty' }) });
    expect(records).toHaveLength(10);

    const slack = scriptedNotifier('slack');
    const logger = createMemoryLogger();
    const result = await processDeliveryBatch(records, {
      db: ledger.db,
      notifiers: { slack },
      channel: 'slack',
      logger,
      clock: time.clock,
    });

    expect(result.batchItemFailures).toEqual([
      { itemIdentifier: 'bad-json' },
      { itemIdentifier: 'bad-shape' },
      { itemIdentifier: 'bad-channel' },
    ]);
    expect(result.results.filter((r) => r.outcome === 'sent')).toHaveLength(7);
    expect(result.results.find((r) => r.messageId === 'bad-shape')?.error).toMatch(/^malformed message: event: /);
    expect(slack.delivered.map((e) => e.summary).sort()).toEqual(messages.map((m) => m.event.summary).sort());
    expect((await ledger.rows()).map((row) => row.status)).toEqual(Array(7).fill('sent'));
    expect(logger.records.filter((r) => r.message === 'delivery message rejected')).toHaveLength(3);
  });

  it('rejects a message meant for another channel, and counts one whose channel has no notifier as a failed attempt', async () => {
    const { time, messages } = await enqueue(1, ['slack', 'loki']);
    const loki = messages.find((m) => m.channel === 'loki')!;
    const slack = messages.find((m) => m.channel === 'slack')!;
    const toSlackSender = await processDeliveryBatch([record(loki), record(slack)], {
      db: ledger.db,
      notifiers: { slack: scriptedNotifier('slack'), loki: scriptedNotifier('loki') },
      channel: 'slack',
      clock: time.clock,
    });
    expect(toSlackSender.batchItemFailures).toEqual([{ itemIdentifier: `sqs-${loki.deliveryId}` }]);
    expect(toSlackSender.results[0]?.error).toBe('message for channel loki reached the slack sender');

    // Not a batch item failure: the ledger owns it now, and its retry policy ends it (see attempts.test.ts).
    const noLoki = await processDeliveryBatch([record(loki)], {
      db: ledger.db,
      notifiers: { slack: scriptedNotifier('slack') },
      clock: time.clock,
    });
    expect(noLoki.batchItemFailures).toEqual([]);
    expect(noLoki.results[0]).toMatchObject({ outcome: 'failed', error: 'no sender is configured for channel loki' });
    expect(await ledger.row(loki.deliveryId)).toMatchObject({
      status: 'failed',
      retry_count: 1,
      last_error: 'no sender is configured for channel loki',
    });
  });

  it('sends a message delivered twice only once, whether the copies come one after the other or at the same time', async () => {
    const { time, messages } = await enqueue(2);
    const [first, second] = messages as [DeliveryMessage, DeliveryMessage];
    const slack = scriptedNotifier('slack');
    const deps = { db: ledger.db, notifiers: { slack }, channel: 'slack' as const, clock: time.clock };

    const once = await processDeliveryBatch([record(first, 'a')], deps);
    const again = await processDeliveryBatch([record(first, 'b')], deps);
    expect(once.results[0]?.outcome).toBe('sent');
    expect(again).toEqual({
      batchItemFailures: [],
      results: [{ messageId: 'b', deliveryId: first.deliveryId, channel: 'slack', outcome: 'already_sent' }],
    });

    // Two consumers handed the same message at once (SQS is at-least-once); a slow Slack keeps the first send open.
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slowSlack = {
      channel: 'slack' as const,
      calls: 0,
      async send() {
        this.calls++;
        await gate;
        return { kind: 'sent' as const, status: 200 };
      },
    };
    const concurrent = Promise.all([
      processDeliveryBatch([record(second, 'c')], { ...deps, notifiers: { slack: slowSlack } }),
      processDeliveryBatch([record(second, 'd'), record(second, 'e')], { ...deps, notifiers: { slack: slowSlack } }),
    ]);
    setTimeout(release, 50);
    const results = (await concurrent).flatMap((r) => r.results);
    expect(results.filter((r) => r.outcome === 'sent')).toHaveLength(1);
    expect(results.filter((r) => r.outcome !== 'sent').every((r) => r.outcome === 'already_sent' || r.outcome === 'duplicate')).toBe(true);
    expect(slowSlack.calls).toBe(1);
    expect(slack.delivered).toHaveLength(1);
  });

  it('acknowledges a dead row without sending it', async () => {
    const { time, messages } = await enqueue(1);
    const message = messages[0] as DeliveryMessage;
    const failing = scriptedNotifier('slack', [{ kind: 'permanent', error: 'Slack answered 410: channel_is_archived', status: 410 }]);
    const deps = { db: ledger.db, channel: 'slack' as const, clock: time.clock };
    expect((await processDeliveryBatch([record(message)], { ...deps, notifiers: { slack: failing } })).results[0]?.outcome).toBe('dead');
    const healthy = scriptedNotifier('slack');
    const redelivered = await processDeliveryBatch([record(message)], { ...deps, notifiers: { slack: healthy } });
    expect(redelivered.results[0]?.outcome).toBe('already_dead');
    expect(redelivered.batchItemFailures).toEqual([]);
    expect(healthy.attempts).toHaveLength(0);
  });

  it('recreates a missing ledger row, and acknowledges without sending a second id for an (event, channel) already tracked', async () => {
    const time = createTestClock();
    const event = testEvent({}, time.clock);
    const slack = scriptedNotifier('slack');
    const deps = { db: ledger.db, notifiers: { slack }, clock: time.clock };
    const byHand: DeliveryMessage = { v: 1, deliveryId: '11111111-1111-4111-8111-111111111111', channel: 'slack', event };
    expect((await processDeliveryBatch([record(byHand)], deps)).results[0]?.outcome).toBe('sent');
    expect(await ledger.row(byHand.deliveryId)).toMatchObject({
      status: 'sent',
      event_id: event.id,
      rule: 'connections_total',
      cluster: 'orders',
    });

    const otherId: DeliveryMessage = { ...byHand, deliveryId: '22222222-2222-4222-8222-222222222222' };
    expect((await processDeliveryBatch([record(otherId)], deps)).results[0]?.outcome).toBe('duplicate');
    expect(slack.attempts).toHaveLength(1);
    expect(await ledger.rows()).toHaveLength(1);
  });

  it('raises delivery_dead on the other channel when a delivery dies, never on the dead one', async () => {
    const time = createTestClock();
    const slack = scriptedNotifier('slack', [{ kind: 'permanent', error: 'Slack answered 403: invalid_token', status: 403 }]);
    const loki = scriptedNotifier('loki');
    const event = testEvent({ severity: 'critical', summary: 'no primary in orders', rule: 'no_primary' }, time.clock);
    await createAlertDelivery({ db: ledger.db, queue: 'direct', notifiers: { slack, loki }, clock: time.clock }).publish([event]);

    expect(slack.attempts.map((e) => e.rule)).toEqual(['no_primary']);
    expect(loki.delivered.map((e) => e.rule)).toEqual(['no_primary', 'delivery_dead']);
    const raised = loki.delivered[1]!;
    const dead = (await ledger.rows()).find((row) => row.channel === 'slack' && row.rule === 'no_primary')!;
    expect(raised).toMatchObject({
      rule: 'delivery_dead',
      severity: 'critical',
      status: 'firing',
      cluster: 'orders',
      client: 'delivery',
      labels: { deliveryId: dead.id, channel: 'slack', eventId: event.id, eventRule: 'no_primary' },
    });
    expect(raised.summary).toBe('slack delivery of "no primary in orders" is dead: permanent failure: Slack answered 403: invalid_token');
    const rows = await ledger.rows();
    expect(rows.map((row) => [row.channel, row.rule, row.status]).sort()).toEqual([
      ['loki', 'delivery_dead', 'sent'],
      ['loki', 'no_primary', 'sent'],
      ['slack', 'no_primary', 'dead'],
    ]);
  });

  it('does not raise delivery_dead for a dead delivery_dead, so two dead channels cannot loop', async () => {
    const time = createTestClock();
    const slack = scriptedNotifier('slack', [{ kind: 'permanent', error: 'Slack answered 404: no_service', status: 404 }]);
    const loki = scriptedNotifier('loki', [{ kind: 'permanent', error: 'Loki answered 401: no org id', status: 401 }]);
    await createAlertDelivery({ db: ledger.db, queue: 'direct', notifiers: { slack, loki }, clock: time.clock }).publish([
      testEvent({}, time.clock),
    ]);
    const rows = await ledger.rows();
    expect(rows.map((row) => [row.channel, row.rule, row.status]).sort()).toEqual([
      ['loki', 'connections_total', 'dead'],
      ['loki', 'delivery_dead', 'dead'],
      ['slack', 'connections_total', 'dead'],
      ['slack', 'delivery_dead', 'dead'],
    ]);
    expect(slack.attempts.map((e) => e.rule)).toEqual(['connections_total', 'delivery_dead']);
    expect(loki.attempts.map((e) => e.rule)).toEqual(['connections_total', 'delivery_dead']);
  });

  it('keeps secrets out of last_error and the logs, even when a notifier quotes or throws them', async () => {
    const token = 'xoxb-very-secret-token-4711';
    registerSecret(token);
    const time = createTestClock();
    const logger = createMemoryLogger();
    let calls = 0;
    const leaky = {
      channel: 'slack' as const,
      async send() {
        calls++;
        if (calls === 1)
          return { kind: 'retry' as const, error: `POST https://alerts:${token}@hooks.example.com/x failed: token=${token}`, status: 502 };
        throw new Error(`socket hang up talking to https://hooks.slack.com/services/T1/B2/${token}`);
      },
    };
    const { messages } = await enqueue(1);
    const message = messages[0] as DeliveryMessage;
    const deps = { db: ledger.db, notifiers: { slack: leaky }, logger, clock: time.clock };
    await processDeliveryBatch([record(message)], deps);
    const afterFirst = await ledger.row(message.deliveryId);
    await processDeliveryBatch([record(message)], deps);
    const afterSecond = await ledger.row(message.deliveryId);

    expect(afterFirst.last_error).toContain('HTTP 502');
    expect(afterSecond.last_error).toContain('socket hang up');
    for (const text of [afterFirst.last_error, afterSecond.last_error, ...logger.records.map((r) => r.line)]) {
      expect(text).not.toContain(token);
    }
    expect(logger.records.some((r) => r.message === 'alert delivery failed; retry scheduled')).toBe(true);
  });
});
