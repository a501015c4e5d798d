import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryMessage } from '../../shared/alerts/index.ts';
import {
  type AlertQueue,
  createAlertDelivery,
  createDirectQueue,
  requeueDeliveries,
  sweepDeliveries,
} from '../../shared/delivery/index.ts';
import type { Notifier, SendOutcome } from '../../shared/notifiers/index.ts';
import { createTestClock, type Ledger, MINUTE, scriptedNotifier, startLedger, testEvent } from './helpers.ts';

const UNAVAILABLE: SendOutcome = { kind: 'retry', error: 'Slack answered 503: rollup_error', status: 503 };

describe('retry policy, sweeper and requeue on the ledger', () => {
  let ledger: Ledger;

  beforeAll(async () => {
    ledger = await startLedger();
  });
  beforeEach(() => ledger.reset());
  afterAll(() => ledger?.close());

  const setup = (slack: Notifier, time = createTestClock()) => {
    const { db } = ledger;
    const notifiers = { slack };
    const queue = createDirectQueue({ db, notifiers, clock: time.clock });
    return {
      time,
      publisher: createAlertDelivery({ db, queue, notifiers, clock: time.clock }),
      sweep: () => sweepDeliveries({ db, queue, clock: time.clock }),
      requeue: (ids: string[]) => requeueDeliveries({ db, queue, ids, clock: time.clock }),
    };
  };

  it('walks a failing delivery through retries 1, 2, 4 and 8 minutes apart and makes it dead on the 5th failure', async () => {
    const slack = scriptedNotifier('slack', [UNAVAILABLE]);
    const { time, publisher, sweep } = setup(slack);
    const start = time.now().getTime();

    expect(await publisher.publish([testEvent({}, time.clock)])).toEqual({ published: 1, deliveries: 1 });
    const [first] = await ledger.rows();
    expect(first).toMatchObject({ status: 'failed', retry_count: 1, last_error: 'Slack answered 503: rollup_error' });
    expect(first?.next_retry_at?.getTime()).toBe(start + 1 * MINUTE);

    let elapsed = 0;
    for (const [attempt, wait, nextWait] of [
      [2, 1, 2],
      [3, 2, 4],
      [4, 4, 8],
    ] as const) {
      // One second early: not due yet.
      time.advance(wait * MINUTE - 1000);
      expect((await sweep()).due).toBe(0);
      time.advance(1000);
      elapsed += wait;
      expect(await sweep()).toMatchObject({ due: 1, published: 1 });
      const row = await ledger.row(first!.id);
      expect(row).toMatchObject({ status: 'failed', retry_count: attempt });
      expect(row.next_retry_at?.getTime()).toBe(start + (elapsed + nextWait) * MINUTE);
    }

    time.advance(8 * MINUTE);
    expect((await sweep()).due).toBe(1);
    const dead = await ledger.row(first!.id);
    expect(dead).toMatchObject({ status: 'dead', retry_count: 5, next_retry_at: null });
    expect(dead.last_error).toBe('gave up after 5 attempts: Slack answered 503: rollup_error');
    expect(slack.attempts).toHaveLength(5);

    time.advance(24 * 60 * MINUTE);
    expect((await sweep()).due).toBe(0);
    expect(slack.attempts).toHaveLength(5);
  });

  it('waits for Retry-After on a 429 when it is longer than the backoff, and for the backoff when it is shorter', async () => {
    const slack = scriptedNotifier('slack', [
      { kind: 'retry', error: 'Slack answered 429: rate_limited (retry after 5m)', status: 429, retryAfterMs: 5 * MINUTE },
      { kind: 'retry', error: 'Slack answered 429: rate_limited (retry after 10s)', status: 429, retryAfterMs: 10_000 },
      { kind: 'sent', status: 200 },
    ]);
    const { time, publisher, sweep } = setup(slack);
    const start = time.now().getTime();
    await publisher.publish([testEvent({}, time.clock)]);
    const [row] = await ledger.rows();
    expect(row).toMatchObject({ status: 'failed', retry_count: 1 });
    expect(row?.next_retry_at?.getTime()).toBe(start + 5 * MINUTE);

    time.advance(1 * MINUTE);
    expect((await sweep()).due).toBe(0);
    time.advance(4 * MINUTE);
    expect((await sweep()).due).toBe(1);
    const second = await ledger.row(row!.id);
    // The second backoff is 2 minutes; a 10 s Retry-After does not make it sooner.
    expect(second.next_retry_at?.getTime()).toBe(start + 7 * MINUTE);

    time.advance(2 * MINUTE);
    await sweep();
    expect(await ledger.row(row!.id)).toMatchObject({ status: 'sent', retry_count: 2, next_retry_at: null, last_error: null });
    expect(slack.delivered).toHaveLength(1);
  });

  it('makes a delivery dead at once on a permanent 4xx, with the reason, and never retries it', async () => {
    const slack = scriptedNotifier('slack', [{ kind: 'permanent', error: 'Slack answered 403: invalid_token', status: 403 }]);
    const { time, publisher, sweep } = setup(slack);
    await publisher.publish([testEvent({}, time.clock)]);
    const [row] = await ledger.rows();
    expect(row).toMatchObject({
      status: 'dead',
      retry_count: 1,
      next_retry_at: null,
      last_error: 'permanent failure: Slack answered 403: invalid_token',
    });
    time.advance(120 * MINUTE);
    expect((await sweep()).due).toBe(0);
    expect(slack.attempts).toHaveLength(1);
  });

  it('requeues a dead delivery with a fresh retry budget and delivers it at once', async () => {
    const slack = scriptedNotifier('slack', [
      { kind: 'permanent', error: 'Slack answered 404: no_service', status: 404 },
      { kind: 'sent', status: 200 },
    ]);
    const { time, publisher, requeue } = setup(slack);
    const event = testEvent({}, time.clock);
    await publisher.publish([event]);
    const [dead] = await ledger.rows();
    expect(dead?.status).toBe('dead');

    time.advance(MINUTE);
    const result = await requeue([dead!.id]);
    expect(result).toEqual({ requeued: [{ id: dead!.id, channel: 'slack', previousStatus: 'dead' }], notRequeued: [], unpublished: [] });
    const sent = await ledger.row(dead!.id);
    expect(sent).toMatchObject({ status: 'sent', retry_count: 0, last_error: null });
    expect(sent.sent_at?.getTime()).toBe(time.now().getTime());
    expect(slack.delivered.map((e) => e.id)).toEqual([event.id]);
  });

  it('requeues a failed delivery but refuses sent, pending and unknown ids, leaving them untouched', async () => {
    const { db } = ledger;
    const time = createTestClock();
    const slack = scriptedNotifier('slack', (event) => (event.summary === 'will fail' ? UNAVAILABLE : { kind: 'sent', status: 200 }));
    const published: DeliveryMessage[] = [];
    const holding: AlertQueue = {
      async publish(messages) {
        published.push(...messages);
      },
    };
    const direct = createDirectQueue({ db, notifiers: { slack }, clock: time.clock });
    const delivery = createAlertDelivery({ db, queue: direct, notifiers: { slack }, clock: time.clock });
    await delivery.publish([testEvent({ summary: 'will be sent' }, time.clock), testEvent({ summary: 'will fail' }, time.clock)]);
    // A pending row: recorded, queued, not yet processed.
    await createAlertDelivery({ db, queue: holding, notifiers: { slack }, clock: time.clock }).publish([
      testEvent({ summary: 'queued' }, time.clock),
    ]);
    const bySummary = new Map((await ledger.rows()).map((row) => [row.event.summary, row]));
    const sent = bySummary.get('will be sent')!;
    const failed = bySummary.get('will fail')!;
    const pending = bySummary.get('queued')!;
    expect([sent.status, failed.status, pending.status]).toEqual(['sent', 'failed', 'pending']);

    time.advance(MINUTE);
    const unknown = '00000000-0000-4000-8000-000000000000';
    const result = await requeueDeliveries({
      db,
      queue: holding,
      ids: [sent.id, failed.id, pending.id, unknown, 'not-a-uuid'],
      clock: time.clock,
    });
    expect(result.requeued).toEqual([{ id: failed.id, channel: 'slack', previousStatus: 'failed' }]);
    expect(result.notRequeued).toEqual([
      { id: sent.id, status: 'sent' },
      { id: pending.id, status: 'pending' },
      { id: unknown, status: 'not found' },
      { id: 'not-a-uuid', status: 'not found' },
    ]);
    expect(published.map((m) => m.deliveryId)).toEqual([pending.id, failed.id]);
    expect(await ledger.row(failed.id)).toMatchObject({ status: 'pending', retry_count: 0, next_retry_at: null });
    expect(await ledger.row(sent.id)).toEqual(sent);
    expect(await ledger.row(pending.id)).toEqual(pending);
    expect(slack.delivered.map((e) => e.summary)).toEqual(['will be sent']);
  });

  it('publishes again a pending row whose message was lost, once it has been pending for 15 minutes', async () => {
    const { db } = ledger;
    const time = createTestClock();
    const slack = scriptedNotifier('slack');
    const lost: AlertQueue = { async publish() {} };
    await createAlertDelivery({ db, queue: lost, notifiers: { slack }, clock: time.clock }).publish([
      testEvent({ summary: 'lost' }, time.clock),
    ]);
    time.advance(10 * MINUTE);
    await createAlertDelivery({ db, queue: lost, notifiers: { slack }, clock: time.clock }).publish([
      testEvent({ summary: 'recent' }, time.clock),
    ]);
    const sweep = () =>
      sweepDeliveries({ db, queue: createDirectQueue({ db, notifiers: { slack }, clock: time.clock }), clock: time.clock });

    time.advance(5 * MINUTE - 1000);
    expect(await sweep()).toMatchObject({ due: 0, stalePending: 0 });
    time.advance(1000);
    expect(await sweep()).toMatchObject({ due: 1, published: 1, stalePending: 1 });
    expect(slack.delivered.map((e) => e.summary)).toEqual(['lost']);
    expect((await ledger.rows()).map((row) => [row.event.summary, row.status])).toEqual([
      ['lost', 'sent'],
      ['recent', 'pending'],
    ]);
  });

  it('lets two concurrent sweeps deliver each due row exactly once', async () => {
    const { db } = ledger;
    const time = createTestClock();
    let healthy = false;
    const slack = scriptedNotifier('slack', () => (healthy ? { kind: 'sent', status: 200 } : UNAVAILABLE));
    const notifiers = { slack };
    const events = Array.from({ length: 120 }, (_, i) => testEvent({ summary: `event ${i}` }, time.clock));
    await createAlertDelivery({ db, queue: createDirectQueue({ db, notifiers, clock: time.clock }), notifiers, clock: time.clock }).publish(
      events,
    );
    expect(new Set((await ledger.rows()).map((row) => row.status))).toEqual(new Set(['failed']));

    healthy = true;
    time.advance(MINUTE);
    const sweep = () =>
      sweepDeliveries({ db, queue: createDirectQueue({ db, notifiers, clock: time.clock }), clock: time.clock, batchSize: 80 });
    const results = await Promise.all([sweep(), sweep()]);
    const again = await sweep();

    expect(results[0].due + results[1].due + again.due).toBe(120);
    const deliveredIds = slack.delivered.map((e) => e.id);
    expect(new Set(deliveredIds).size).toBe(120);
    expect(deliveredIds).toHaveLength(120);
    expect(new Set((await ledger.rows()).map((row) => row.status))).toEqual(new Set(['sent']));
  });
});
