import { execFile } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config/index.ts';
import { listDeliveries, openAlertPublisher } from '../../shared/delivery/index.ts';
import { createLineLogger, createMemoryLogger } from '../../shared/log/index.ts';
import { type SlackFake, startSlackFake } from '../harness/fakes/slack.ts';
import { createTestClock, type Ledger, startLedger, testEvent } from './helpers.ts';

/** Runs the real CLI (Node 22 from node_modules) with no PGWARDEN_* variables from the outside. */
function pgwarden(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('PGWARDEN_')));
  return new Promise((resolve) => {
    execFile('./node_modules/.bin/node', ['bin/pgwarden.ts', ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('alert delivery end to end: ledger + real Slack notifier + loopback Slack', () => {
  let ledger: Ledger;
  let slack: SlackFake;

  beforeAll(async () => {
    [ledger, slack] = await Promise.all([startLedger(), startSlackFake()]);
  });
  beforeEach(async () => {
    await ledger.reset();
    slack.received.length = 0;
  });
  afterAll(async () => {
    await Promise.all([ledger?.close(), slack?.close()]);
  });

  const webhookPath = () => new URL(slack.url).pathname;
  const open = (overrides: Record<string, unknown>, options: Parameters<typeof openAlertPublisher>[2] = {}) => {
    const lines: string[] = [];
    const logger = createLineLogger({ write: (line) => lines.push(line) });
    const config = loadConfig({ env: {}, overrides });
    return { lines, opened: openAlertPublisher(config, logger, options) };
  };

  it('sends directly through the ledger when no queue is configured, and records the row as sent', async () => {
    const time = createTestClock();
    const { opened } = open({ stateUrl: ledger.url, slack: { webhookUrl: slack.url } }, { clock: time.clock });
    const { publisher, mode, close } = await opened;
    try {
      expect(mode).toBe('direct');
      const event = testEvent({ rule: 'no_primary', severity: 'critical', summary: 'no node of orders is primary' }, time.clock);
      expect(await publisher.publish([event])).toEqual({ published: 1, deliveries: 1 });
      expect(slack.received).toHaveLength(1);
      expect((slack.received[0] as { text: string }).text).toContain('no node of orders is primary');
      const [row] = await listDeliveries({ db: ledger.db });
      expect(row).toMatchObject({
        eventId: event.id,
        channel: 'slack',
        status: 'sent',
        retryCount: 0,
        rule: 'no_primary',
        cluster: 'orders',
      });
      expect(row?.sentAt).toBe(time.now().toISOString());
    } finally {
      await close();
    }
  });

  it('records through a control database pool it is given, opens none of its own, and leaves that pool open on close', async () => {
    const time = createTestClock();
    const { opened } = open({ stateUrl: ledger.url, slack: { webhookUrl: slack.url } }, { clock: time.clock, db: ledger.db });
    const { publisher, close } = await opened;
    await publisher.publish([testEvent({ summary: 'through the shared pool' }, time.clock)]);
    const own = await ledger.db.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where application_name = 'pgwarden-delivery'",
    );
    expect(own.rows[0]?.n).toBe(0);
    await close();
    const [row] = await ledger.rows();
    expect(row).toMatchObject({ status: 'sent' });
    expect(slack.received).toHaveLength(1);
  });

  it("schedules a 429's retry at Retry-After, and makes a revoked webhook dead with Slack's reason and no secret", async () => {
    const time = createTestClock();
    const { opened, lines } = open({ stateUrl: ledger.url, slack: { webhookUrl: slack.url } }, { clock: time.clock });
    const { publisher, close } = await opened;
    try {
      slack.respondWith({ status: 429, body: 'rate_limited', headers: { 'Retry-After': '300' } }, { status: 403, body: 'invalid_token' });
      // One at a time: the programmed answers go to the calls in order.
      await publisher.publish([testEvent({ summary: 'limited' }, time.clock)]);
      await publisher.publish([testEvent({ summary: 'revoked' }, time.clock)]);
      const rows = new Map((await ledger.rows()).map((row) => [row.event.summary, row]));
      const limited = rows.get('limited')!;
      expect(limited).toMatchObject({ status: 'failed', retry_count: 1 });
      expect(limited.next_retry_at?.getTime()).toBe(time.now().getTime() + 300_000);
      expect(limited.last_error).toContain('429');
      const revoked = rows.get('revoked')!;
      expect(revoked).toMatchObject({ status: 'dead', retry_count: 1, next_retry_at: null });
      expect(revoked.last_error).toBe('permanent failure: slack answered 403: invalid_token');
      for (const text of [limited.last_error, revoked.last_error, ...lines]) {
        expect(text).not.toContain(webhookPath());
        expect(text).not.toContain('fakeSecretToken');
      }
      expect(lines.some((line) => line.includes('alert delivery is dead'))).toBe(true);
    } finally {
      await close();
    }
  });

  it('prints alerts with no channel configured, and sends without a ledger when no control database is configured', async () => {
    const printed: string[] = [];
    const consoleRun = open({ stateUrl: ledger.url }, { consoleWrite: (line) => printed.push(line) });
    const console = await consoleRun.opened;
    expect(console.mode).toBe('console');
    await console.publisher.publish([testEvent({ summary: 'printed only' })]);
    expect(printed).toHaveLength(1);
    expect(printed[0]).toContain('printed only');

    const direct = open({ slack: { webhookUrl: slack.url } });
    const unrecorded = await direct.opened;
    expect(unrecorded.mode).toBe('unrecorded');
    expect(direct.lines.some((line) => line.includes('without a delivery ledger'))).toBe(true);
    await unrecorded.publisher.publish([testEvent({ summary: 'no ledger' })]);
    expect(slack.received).toHaveLength(1);
    expect(await ledger.rows()).toHaveLength(0);

    const dry = await open({ stateUrl: ledger.url, slack: { webhookUrl: slack.url } }, { dryRun: true }).opened;
    expect(dry.mode).toBe('dry-run');
    await dry.publisher.publish([testEvent()]);
    expect(slack.received).toHaveLength(1);
  });

  it('pgwarden deliveries --json, requeue and sweep work on the ledger through the real CLI', async () => {
    const logger = createMemoryLogger();
    const config = loadConfig({ env: {}, overrides: { stateUrl: ledger.url, slack: { webhookUrl: slack.url } } });
    const { publisher, close } = await openAlertPublisher(config, logger);
    slack.respondWith({ status: 410, body: 'channel_is_archived' }, { status: 503, body: 'service_unavailable' });
    try {
      // One at a time: the programmed answers go to the calls in order.
      for (const summary of ['archived', 'unavailable', 'fine']) await publisher.publish([testEvent({ summary })]);
    } finally {
      await close();
    }
    const rows = new Map((await ledger.rows()).map((row) => [row.event.summary, row]));
    const dead = rows.get('archived')!;
    const failed = rows.get('unavailable')!;
    const sent = rows.get('fine')!;
    const common = ['--state-url', ledger.url, '--slack-webhook', slack.url];

    const listed = await pgwarden(['deliveries', '--json', '--status', 'dead', ...common]);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual({
      deliveries: [
        {
          id: dead.id,
          eventId: dead.event_id,
          channel: 'slack',
          status: 'dead',
          retryCount: 1,
          nextRetryAt: null,
          lastError: 'permanent failure: slack answered 410: channel_is_archived',
          rule: 'connections_total',
          cluster: 'orders',
        },
      ],
    });

    const refused = await pgwarden(['requeue', sent.id, ...common]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe(`not requeued ${sent.id}: it is sent\n`);

    const requeued = await pgwarden(['requeue', dead.id, ...common]);
    expect(requeued).toMatchObject({ code: 0, stdout: `requeued ${dead.id} (slack, was dead)\n` });
    expect(await ledger.row(dead.id)).toMatchObject({ status: 'sent', retry_count: 0 });

    // The CLI runs on the wall clock: make the failed row due now.
    await ledger.db.exec("update pgwarden.deliveries set next_retry_at = now() - interval '1 second' where id = $1", [failed.id]);
    const swept = await pgwarden(['sweep', ...common]);
    expect(swept).toMatchObject({ code: 0, stdout: 'swept: 1 due, 1 published, 0 left due, 0 made dead\n' });
    expect(await ledger.row(failed.id)).toMatchObject({ status: 'sent', retry_count: 1 });
    expect(slack.received.map((m) => (m as { text: string }).text).filter((t) => /archived|unavailable/.test(t))).toHaveLength(4);

    for (const output of [listed, refused, requeued, swept]) expect(output.stderr).not.toContain(webhookPath());
  });

  it('pgwarden sweep ends with exit 2 and says why without a control database; migrate up reports the versions', async () => {
    const missing = await pgwarden(['sweep']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('the control database is required: give --state-url postgres://… (or set PGWARDEN_STATE_URL)');
    const migrated = await pgwarden(['migrate', 'up', '--state-url', ledger.url]);
    expect(migrated).toMatchObject({ code: 0, stdout: 'current: 1, 2, 3\n' });
    const badStatus = await pgwarden(['deliveries', '--status', 'lost', '--state-url', ledger.url]);
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toContain('--status: "lost" is not a delivery status (one of pending, sent, failed, dead)');
  });
});
