import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createAlertDelivery,
  createDirectQueue,
  getDelivery,
  MAX_ATTEMPTS,
  requeueDeliveries,
  sweepDeliveries,
} from '../../shared/delivery/index.ts';
import { createMemoryLogger } from '../../shared/log/index.ts';
import { createLokiNotifier } from '../../shared/notifiers/index.ts';
import { startLokiFake } from '../harness/fakes/loki.ts';
import { createTestClock, holdingQueue, type Ledger, MINUTE, scriptedNotifier, startLedger, testEvent } from './helpers.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** The real CLI as a child process, with no PGWARDEN_* variables from the outer environment. */
function pgwarden(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('PGWARDEN_'))), ...extraEnv };
  return new Promise((resolve) => {
    execFile(
      path.join(root, 'node_modules/.bin/node'),
      [path.join(root, 'bin/pgwarden.ts'), ...args],
      { cwd: root, env, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('deliveries that no sender can send, and the attempt history', () => {
  let ledger: Ledger;

  beforeAll(async () => {
    ledger = await startLedger();
  });
  beforeEach(() => ledger.reset());
  afterAll(() => ledger?.close());

  it('counts each attempt at a channel with no sender, makes it dead after the policy, and raises delivery_dead on the other', async () => {
    const time = createTestClock();
    const slack = scriptedNotifier('slack');
    const { db } = ledger;
    // Loki is named in the channels but not configured: the wedge of issue 13.
    const queue = createDirectQueue({ db, notifiers: { slack }, clock: time.clock });
    const publisher = createAlertDelivery({ db, queue, notifiers: { slack }, channels: ['slack', 'loki'], clock: time.clock });
    const event = testEvent({ summary: 'orders is out of connections' }, time.clock);
    expect(await publisher.publish([event])).toEqual({ published: 1, deliveries: 2 });

    const loki = (await ledger.rows()).find((row) => row.channel === 'loki')!;
    expect(loki).toMatchObject({ status: 'failed', retry_count: 1, last_error: 'no sender is configured for channel loki' });
    for (let attempt = 2; attempt <= MAX_ATTEMPTS; attempt++) {
      time.advance(60 * MINUTE);
      expect(await sweepDeliveries({ db, queue, clock: time.clock })).toMatchObject({ due: 1, published: 1 });
      expect((await ledger.row(loki.id)).retry_count).toBe(attempt);
    }
    expect(await ledger.row(loki.id)).toMatchObject({
      status: 'dead',
      retry_count: MAX_ATTEMPTS,
      next_retry_at: null,
      last_error: `gave up after ${MAX_ATTEMPTS} attempts: no sender is configured for channel loki`,
    });
    time.advance(24 * 60 * MINUTE);
    expect((await sweepDeliveries({ db, queue, clock: time.clock })).due).toBe(0);

    expect(slack.delivered.map((e) => e.rule)).toEqual(['connections_total', 'delivery_dead']);
    expect(slack.delivered[1]?.summary).toBe(
      `loki delivery of "orders is out of connections" is dead: gave up after ${MAX_ATTEMPTS} attempts: no sender is configured for channel loki`,
    );
    const history = (await getDelivery({ db, id: loki.id }))!.attempts;
    expect(history.map((a) => [a.attempt, a.outcome, a.error, a.httpStatus])).toEqual([
      [1, 'failed', 'no sender is configured for channel loki', null],
      [2, 'failed', 'no sender is configured for channel loki', null],
      [3, 'failed', 'no sender is configured for channel loki', null],
      [4, 'failed', 'no sender is configured for channel loki', null],
      [5, 'dead', `gave up after ${MAX_ATTEMPTS} attempts: no sender is configured for channel loki`, null],
    ]);
  });

  it('counts the attempts of a row for a channel this version does not know and makes it dead, without publishing it', async () => {
    const time = createTestClock();
    const slack = scriptedNotifier('slack');
    const { db } = ledger;
    const event = testEvent({ summary: 'orders lost its primary' }, time.clock);
    // Written by another version (or by hand): no sender anywhere knows "teams".
    const id = 'eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee';
    await db.exec(
      `insert into pgwarden.deliveries (id, event_id, channel, status, retry_count, next_retry_at, rule, cluster, event, created_at, updated_at)
       values ($1, $2, 'teams', 'failed', 0, $3, $4, $5, $6, $3, $3)`,
      [id, event.id, time.now(), event.rule, event.cluster, JSON.stringify(event)],
    );
    const published: string[] = [];
    const direct = createDirectQueue({ db, notifiers: { slack }, clock: time.clock });
    const queue = {
      publish: async (messages: Parameters<typeof direct.publish>[0]) => {
        published.push(...messages.map((m) => `${m.channel}/${m.event.rule}`));
        await direct.publish(messages);
      },
    };
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      expect(await sweepDeliveries({ db, queue, clock: time.clock, channels: ['slack'] })).toMatchObject({
        due: 1,
        noSender: 1,
        published: 0,
      });
      expect((await ledger.row(id)).retry_count).toBe(attempt);
      time.advance(60 * MINUTE);
    }
    expect(await ledger.row(id)).toMatchObject({
      status: 'dead',
      last_error: `gave up after ${MAX_ATTEMPTS} attempts: no sender is configured for channel teams`,
    });
    expect((await sweepDeliveries({ db, queue, clock: time.clock, channels: ['slack'] })).due).toBe(0);
    expect(published).toEqual(['slack/delivery_dead']);
    expect(slack.delivered.map((e) => e.summary)).toEqual([
      `teams delivery of "orders lost its primary" is dead: gave up after ${MAX_ATTEMPTS} attempts: no sender is configured for channel teams`,
    ]);
    expect((await getDelivery({ db, id }))?.attempts.map((a) => a.outcome)).toEqual(['failed', 'failed', 'failed', 'failed', 'dead']);
  });

  it('sends to a Loki 2.x through the ledger on the first round without metadata, and remembers; on makes it dead as before', async () => {
    const time = createTestClock();
    const { db } = ledger;
    const old = await startLokiFake({ structuredMetadata: false });
    try {
      const loki = createLokiNotifier({ url: old.url, clock: time.clock });
      const publisher = createAlertDelivery({ db, queue: 'direct', notifiers: { loki }, clock: time.clock });
      await publisher.publish([testEvent({ summary: 'first' }, time.clock)]);
      await publisher.publish([testEvent({ summary: 'second' }, time.clock)]);
      const rows = await ledger.rows();
      expect(rows.map((row) => [row.event.summary, row.status, row.retry_count])).toEqual([
        ['first', 'sent', 0],
        ['second', 'sent', 0],
      ]);
      expect((await getDelivery({ db, id: rows[0]!.id }))?.attempts.map((a) => [a.outcome, a.httpStatus])).toEqual([['sent', 204]]);
      // One refused push for the first delivery, then every push without metadata.
      expect(old.requests.map((request) => request.status)).toEqual([400, 204, 204]);
      expect(old.received.flatMap((push) => push.streams.map((stream) => stream.values[0]?.length))).toEqual([2, 2]);

      await ledger.reset();
      const strict = createLokiNotifier({ url: old.url, clock: time.clock, structuredMetadata: 'on' });
      await createAlertDelivery({ db, queue: 'direct', notifiers: { loki: strict }, clock: time.clock }).publish([
        testEvent({}, time.clock),
      ]);
      const [dead] = await ledger.rows();
      expect(dead).toMatchObject({ status: 'dead', retry_count: 1 });
      expect(dead?.last_error).toMatch(
        /^permanent failure: loki answered 400: stream '\{.*includes structured metadata, but this feature is disallowed/,
      );
    } finally {
      await old.close();
    }
  });

  it('keeps each attempt with its time, outcome, HTTP status and error; requeue clears last_error and keeps the history', async () => {
    const time = createTestClock();
    const slack = scriptedNotifier('slack', [
      { kind: 'retry', error: 'slack answered 503: rollup_error', status: 503 },
      { kind: 'retry', error: 'slack answered 429: rate_limited', status: 429, retryAfterMs: 30_000 },
      { kind: 'permanent', error: 'slack answered 404: no_service', status: 404 },
      { kind: 'sent', status: 200 },
    ]);
    const { db } = ledger;
    const queue = createDirectQueue({ db, notifiers: { slack }, clock: time.clock });
    await createAlertDelivery({ db, queue, notifiers: { slack }, clock: time.clock }).publish([testEvent({}, time.clock)]);
    const [row] = await ledger.rows();
    const started = time.now().toISOString();
    time.advance(MINUTE);
    const second = time.now().toISOString();
    await sweepDeliveries({ db, queue, clock: time.clock });
    time.advance(2 * MINUTE);
    const third = time.now().toISOString();
    await sweepDeliveries({ db, queue, clock: time.clock });
    expect(await ledger.row(row!.id)).toMatchObject({ status: 'dead', last_error: 'permanent failure: slack answered 404: no_service' });

    // Requeued onto a queue nobody consumes yet: pending, with no error of a past attempt on it.
    const held = holdingQueue();
    time.advance(MINUTE);
    expect((await requeueDeliveries({ db, queue: held, ids: [row!.id], clock: time.clock })).requeued).toHaveLength(1);
    expect(await ledger.row(row!.id)).toMatchObject({ status: 'pending', retry_count: 0, last_error: null });

    await queue.publish(held.messages);
    const detail = await getDelivery({ db, id: row!.id });
    expect(detail).toMatchObject({ id: row!.id, status: 'sent', retryCount: 0, lastError: null });
    expect(detail?.attempts).toEqual([
      { attempt: 1, at: started, outcome: 'failed', error: 'slack answered 503: rollup_error', httpStatus: 503 },
      {
        attempt: 2,
        at: second,
        outcome: 'rate_limited',
        error: 'slack answered 429: rate_limited (Retry-After 30s)',
        httpStatus: 429,
      },
      { attempt: 3, at: third, outcome: 'dead', error: 'permanent failure: slack answered 404: no_service', httpStatus: 404 },
      { attempt: 4, at: time.now().toISOString(), outcome: 'sent', error: null, httpStatus: 200 },
    ]);
  });

  it('raises delivery_dead when the sweeper makes dead a row an older policy left failed', async () => {
    const time = createTestClock();
    const { db } = ledger;
    const slack = scriptedNotifier('slack');
    const loki = scriptedNotifier('loki');
    const event = testEvent({ summary: 'replica lag on orders' }, time.clock);
    await createAlertDelivery({ db, queue: holdingQueue(), notifiers: { slack, loki }, channels: ['loki'], clock: time.clock }).publish([
      event,
    ]);
    // An older policy allowed more attempts: the row is failed with 7 of them and due in an hour.
    await db.exec(
      `update pgwarden.deliveries set status = 'failed', retry_count = 7, last_error = 'loki answered 503', next_retry_at = $1`,
      [new Date(time.now().getTime() + 60 * MINUTE)],
    );
    const logger = createMemoryLogger();
    const queue = createDirectQueue({ db, notifiers: { slack, loki }, clock: time.clock });
    const swept = await sweepDeliveries({ db, queue, clock: time.clock, channels: ['slack', 'loki'], logger });
    expect(swept).toMatchObject({ promotedDead: 1, due: 0 });

    expect(loki.attempts).toEqual([]);
    expect(slack.delivered.map((e) => [e.rule, e.summary])).toEqual([
      ['delivery_dead', 'loki delivery of "replica lag on orders" is dead: gave up after 7 attempts: loki answered 503'],
    ]);
    const rows = await ledger.rows();
    expect(rows.map((r) => [r.channel, r.rule, r.status]).sort()).toEqual([
      ['loki', 'connections_total', 'dead'],
      ['slack', 'delivery_dead', 'sent'],
    ]);
    expect(logger.records.some((r) => r.message === 'delivery_dead raised')).toBe(true);
  });

  it('pgwarden deliveries --id prints one delivery with its attempts, plain and --json; a bad or unknown id says so', async () => {
    const time = createTestClock();
    const { db } = ledger;
    const slack = scriptedNotifier('slack', [
      { kind: 'retry', error: 'slack answered 503: rollup_error', status: 503 },
      { kind: 'sent', status: 200 },
    ]);
    const queue = createDirectQueue({ db, notifiers: { slack }, clock: time.clock });
    await createAlertDelivery({ db, queue, notifiers: { slack }, clock: time.clock }).publish([testEvent({}, time.clock)]);
    time.advance(MINUTE);
    await sweepDeliveries({ db, queue, clock: time.clock });
    const [row] = await ledger.rows();
    const id = row!.id;

    const plain = await pgwarden(['deliveries', '--id', id, '--state-url', ledger.url]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe(
      `${id}  slack  sent  tries=1  orders/connections_total  created=2026-03-01T12:00:00.000Z  sent=2026-03-01T12:01:00.000Z\n` +
        'attempts:\n' +
        '  #1  2026-03-01T12:00:00.000Z  failed        HTTP 503  slack answered 503: rollup_error\n' +
        '  #2  2026-03-01T12:01:00.000Z  sent          HTTP 200\n',
    );

    const json = await pgwarden(['deliveries', '--id', id, '--json', '--state-url', ledger.url]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      delivery: expect.objectContaining({
        id,
        channel: 'slack',
        status: 'sent',
        retryCount: 1,
        lastError: null,
        attempts: [
          { attempt: 1, at: '2026-03-01T12:00:00.000Z', outcome: 'failed', error: 'slack answered 503: rollup_error', httpStatus: 503 },
          { attempt: 2, at: '2026-03-01T12:01:00.000Z', outcome: 'sent', error: null, httpStatus: 200 },
        ],
      }),
    });

    const unknown = await pgwarden(['deliveries', '--id', '00000000-0000-4000-8000-000000000000', '--state-url', ledger.url]);
    expect(unknown).toMatchObject({ code: 1, stdout: '' });
    expect(unknown.stderr).toContain('no delivery 00000000-0000-4000-8000-000000000000 in the ledger');
    const bad = await pgwarden(['deliveries', '--id', '42', '--state-url', ledger.url]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--id: "42" is not a delivery id');
  });

  it('refuses, with exit 2 and every other problem, a config whose channels name a sender that is not configured', async () => {
    const run = await pgwarden(['deliveries', '--state-url', ledger.url], {
      PGWARDEN_CHANNELS: 'slack,loki',
      PGWARDEN_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/secretpath',
      PGWARDEN_PROXY_API_PORT: 'many',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('channels[1]: names loki, but no sender is configured for channel loki');
    expect(run.stderr).toContain('proxy.apiPort');
    expect(run.stderr).not.toContain('secretpath');
  });
});
