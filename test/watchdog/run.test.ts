import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type AlertPublisher,
  type AlertStateStore,
  alertStateMigration,
  createAlertStateStore,
  createLogPublisher,
  createMemoryAlertStateStore,
} from '../../shared/alerts/index.ts';
import { type Config, loadConfig, watchdogSettingsFor } from '../../shared/config/index.ts';
import { type Cluster, createCluster, migrate } from '../../shared/db/index.ts';
import { createMemoryLogger, silentLogger } from '../../shared/log/index.ts';
import { runWatchdog, type WatchdogResult } from '../../shared/watchdog/index.ts';
import { blackhole, closedPort, startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { openSessions } from './sessions.ts';

const start = Date.parse('2026-11-01T00:00:00Z');
const HOUR = 3_600_000;

const sentOf = (result: WatchdogResult) =>
  result.checks.flatMap((c) => c.events.map((e) => `${e.node} ${e.rule} ${e.status} ${e.severity}`));

/** Waits until the replica has replayed the revoke: the watcher's read of pg_stat_activity is denied there too. */
async function replayed(url: string): Promise<void> {
  for (;;) {
    const client = new pg.Client(url);
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('select 1 from pg_catalog.pg_stat_activity limit 1');
    } catch (error) {
      if ((error as { code?: string }).code === '42501') return;
    } finally {
      await client.end().catch(() => {});
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('runWatchdog with the alert lifecycle', () => {
  let cluster: TestCluster;
  let stateDb: Cluster;
  const sessions = openSessions();
  let now = start;
  const clock = () => new Date(now);
  let publisher: ReturnType<typeof createLogPublisher>;

  const configWith = (watchdog: Record<string, unknown>, nodes?: Array<{ name: string; url: string }>): Config =>
    loadConfig({
      env: {},
      overrides: { watchdog, clusters: [{ name: 'orders', nodes: nodes ?? [{ name: 'orders-0', url: cluster.url('pg-1') }] }] },
    });
  const check = (
    cfg: Config,
    extra: {
      dryRun?: boolean;
      forceNotification?: boolean;
      stateDb?: Cluster | null;
      publisher?: AlertPublisher;
      alertStore?: AlertStateStore;
    } = {},
  ) =>
    runWatchdog({
      clusters: cfg.clusters,
      settings: (c) => watchdogSettingsFor(cfg, c),
      stateDb: extra.stateDb === null ? undefined : (extra.stateDb ?? stateDb),
      alertStore: extra.alertStore,
      publisher: extra.publisher ?? publisher,
      logger: silentLogger,
      clock,
      dryRun: extra.dryRun,
      forceNotification: extra.forceNotification,
    });

  beforeAll(async () => {
    // The control database lives on the primary; the watched node is the replica, so the state store's own
    // sessions never show up in the counts under test.
    cluster = await startTestCluster({ replicas: 1 });
    stateDb = createCluster({ primary: cluster.url('pg-0'), healthCheck: { intervalMs: 0 } });
    await migrate(stateDb, [alertStateMigration], 'up');
    // A database where the watchdog's role may not read pg_stat_activity: a reachable node whose stats query fails.
    const admin = new pg.Client(cluster.url('pg-0'));
    await admin.connect();
    await admin.query('create database locked');
    await admin.query("create role watcher login password 'watcher-password'");
    await admin.end();
    const locked = new pg.Client(cluster.url('pg-0', { database: 'locked' }));
    await locked.connect();
    await locked.query('revoke select on pg_catalog.pg_stat_activity from public');
    await locked.end();
    await replayed(cluster.url('pg-1', { user: 'watcher', password: 'watcher-password', database: 'locked' }));
  });
  beforeEach(async () => {
    now = start;
    publisher = createLogPublisher(silentLogger);
    await stateDb.exec('truncate pgwarden.alert_state');
  });
  afterEach(() => sessions.closeAll());
  afterAll(async () => {
    await stateDb?.close();
    await cluster?.close();
  });

  it('fires once the breach held for `for`, repeats after repeatInterval, and sends resolved once', async () => {
    const cfg = configWith({ thresholds: { total: 3 }, for: '60s', repeatInterval: '1h' });
    await sessions.idle(cluster.url('pg-1'), 3);
    const steps: string[][] = [];
    for (const at of [0, 30_000, 60_000, 90_000, 60_000 + HOUR]) {
      now = start + at;
      steps.push(sentOf(await check(cfg)));
    }
    await sessions.closeAll();
    for (const at of [HOUR + 120_000, HOUR + 180_000]) {
      now = start + at;
      steps.push(sentOf(await check(cfg)));
    }
    expect(steps).toEqual([
      [],
      [],
      ['orders-0 connections_total firing warning'],
      [],
      ['orders-0 connections_total firing warning'],
      ['orders-0 connections_total resolved warning'],
      [],
    ]);
    expect(publisher.events.map((e) => `${e.status} ${e.summary}`)).toEqual([
      'firing orders/orders-0: 3 connections (threshold 3)',
      'firing orders/orders-0: 3 connections (threshold 3)',
      'resolved orders/orders-0: 0 connections, under the threshold of 3',
    ]);
  });

  it('keeps `for` and repeatInterval without a control database when given an in-memory lifecycle (watchdog --interval)', async () => {
    const cfg = configWith({ thresholds: { total: 3 }, for: '60s', repeatInterval: '1h' });
    const alertStore = createMemoryAlertStateStore({ clock });
    const steps: string[][] = [];
    await sessions.idle(cluster.url('pg-1'), 3);
    for (const at of [0, 30_000, 60_000, 90_000, 60_000 + HOUR]) {
      now = start + at;
      steps.push(sentOf(await check(cfg, { stateDb: null, alertStore })));
    }
    await sessions.closeAll();
    for (const at of [HOUR + 120_000, HOUR + 180_000]) {
      now = start + at;
      steps.push(sentOf(await check(cfg, { stateDb: null, alertStore })));
    }
    expect(steps).toEqual([
      [],
      [],
      ['orders-0 connections_total firing warning'],
      [],
      ['orders-0 connections_total firing warning'],
      ['orders-0 connections_total resolved warning'],
      [],
    ]);
    // Nothing went through the control database.
    expect(await createAlertStateStore(stateDb).list()).toEqual([]);
  });

  it('re-sends at once when saturation climbs to a higher level, and resolves at the level it reached', async () => {
    // 97 usable slots: 1 session is 1% (info), 5 sessions are 5.2% (critical).
    const cfg = configWith({ levels: '1,3,5' });
    await sessions.idle(cluster.url('pg-1'), 1);
    const first = await check(cfg);
    now += 30_000;
    await sessions.idle(cluster.url('pg-1'), 4);
    const escalated = await check(cfg);
    now += 30_000;
    const held = await check(cfg);
    await sessions.closeAll();
    now += 30_000;
    const resolved = await check(cfg);
    expect([first, escalated, held, resolved].map(sentOf)).toEqual([
      ['orders-0 connections_saturation firing info'],
      ['orders-0 connections_saturation firing critical'],
      [],
      ['orders-0 connections_saturation resolved critical'],
    ]);
  });

  it('sends nothing for a breach that clears within `for`', async () => {
    const cfg = configWith({ thresholds: { total: 2 }, for: '5m' });
    const results: WatchdogResult[] = [];
    for (let round = 0; round < 3; round++) {
      await sessions.idle(cluster.url('pg-1'), 2);
      results.push(await check(cfg));
      now += 60_000;
      await sessions.closeAll();
      results.push(await check(cfg));
      now += 60_000;
    }
    expect(results.flatMap(sentOf)).toEqual([]);
    expect(publisher.events).toEqual([]);
  });

  it('does not resolve the threshold alerts of a node it could not check; connect_failure fires instead', async () => {
    const cfg = configWith({ thresholds: { total: 2 } });
    await sessions.idle(cluster.url('pg-1'), 2);
    expect(sentOf(await check(cfg))).toEqual(['orders-0 connections_total firing warning']);
    const port = await closedPort();
    now += 30_000;
    const unreachable = configWith({ thresholds: { total: 2 } }, [
      { name: 'orders-0', url: `postgres://postgres:pw-closed@127.0.0.1:${port}/postgres` },
    ]);
    expect(sentOf(await check(unreachable))).toEqual(['orders-0 connect_failure firing critical']);
    const states = await createAlertStateStore(stateDb).list({ cluster: 'orders' });
    expect(states.map((s) => `${s.rule} ${s.status}`)).toEqual(['connect_failure firing', 'connections_total firing']);
    now += 30_000;
    await sessions.closeAll();
    expect(sentOf(await check(cfg)).sort()).toEqual([
      'orders-0 connect_failure resolved critical',
      'orders-0 connections_total resolved warning',
    ]);
  });

  it('reports a closed port and a black-holed port as connect_failure within the connect timeout, without their passwords', async () => {
    const hole = await blackhole();
    try {
      const port = await closedPort();
      const cfg = configWith({ connectTimeout: '300ms' }, [
        { name: 'orders-0', url: cluster.url('pg-1') },
        { name: 'closed', url: `postgres://postgres:closed-secret-pw@127.0.0.1:${port}/postgres` },
        { name: 'hole', url: hole.url('postgres', 'hole-secret-pw') },
      ]);
      const logger = createMemoryLogger();
      const result = await runWatchdog({
        clusters: cfg.clusters,
        settings: (c) => watchdogSettingsFor(cfg, c),
        publisher,
        logger,
        clock: () => new Date(now),
      });
      expect(result.checks.map((c) => [c.node, c.outcome])).toEqual([
        ['orders-0', 'ok'],
        ['closed', 'connect_failure'],
        ['hole', 'connect_failure'],
      ]);
      expect(result.checks[1]!.error).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
      expect(result.checks[2]!.error).toMatch(/^no answer within the connect timeout of 300ms/);
      expect(hole.accepted()).toBe(1);
      expect(publisher.events.map((e) => `${e.node} ${e.rule} ${e.severity} ${e.threshold}`)).toEqual([
        'closed connect_failure critical 300',
        'hole connect_failure critical 300',
      ]);
      expect(publisher.events[1]!.summary).toBe(`orders/hole (127.0.0.1:${hole.port}) cannot be reached: ${result.checks[2]!.error}`);
      const everything = JSON.stringify([result, publisher.events, logger.records.map((r) => r.line)]);
      expect(everything).not.toContain('closed-secret-pw');
      expect(everything).not.toContain('hole-secret-pw');
      expect(everything).not.toContain(cluster.password);
    } finally {
      await hole.close();
    }
  });

  it('raises stats_query_failure when a reachable node answers the stats query with an error', async () => {
    const cfg = configWith({}, [
      { name: 'orders-0', url: cluster.url('pg-1', { user: 'watcher', password: 'watcher-password', database: 'locked' }) },
    ]);
    const result = await check(cfg);
    expect(result.checks[0]).toMatchObject({ outcome: 'stats_query_failure', stats: null });
    expect(result.checks[0]!.error).toMatch(/^42501 permission denied for view pg_stat_activity/);
    expect(sentOf(result)).toEqual(['orders-0 stats_query_failure firing warning']);
    expect(publisher.events[0]!.labels).toMatchObject({ code: '42501' });
  });

  it('dry-run reports every breach, stateless, and publishes and stores nothing', async () => {
    const cfg = configWith({ thresholds: { total: 1 } });
    await sessions.idle(cluster.url('pg-1'), 1);
    const first = await check(cfg, { dryRun: true });
    const second = await check(cfg, { dryRun: true });
    expect([first, second].map(sentOf)).toEqual([
      ['orders-0 connections_total firing warning'],
      ['orders-0 connections_total firing warning'],
    ]);
    expect(first.lifecycle).toBe('stateless');
    expect(publisher.events).toEqual([]);
    expect(await createAlertStateStore(stateDb).list()).toEqual([]);
  });

  it('without a state database reports every breach on every check', async () => {
    const cfg = configWith({ thresholds: { total: 1 } });
    await sessions.idle(cluster.url('pg-1'), 1);
    await check(cfg, { stateDb: null });
    await check(cfg, { stateDb: null });
    expect(publisher.events.map((e) => `${e.rule} ${e.status}`)).toEqual(['connections_total firing', 'connections_total firing']);
  });

  it('sends a forced test event on every run, past the lifecycle', async () => {
    const cfg = configWith({});
    await check(cfg, { forceNotification: true });
    now += 1000;
    await check(cfg, { forceNotification: true });
    expect(publisher.events.map((e) => `${e.rule} ${e.severity} ${e.node}`)).toEqual(['test info orders-0', 'test info orders-0']);
    expect(publisher.events[0]!.summary).toBe(
      'pgwarden test notification from the watchdog: orders/orders-0: 0 connections, 0% of 97 usable',
    );
  });

  it('falls back to reporting every breach when the control database is down, and says so', async () => {
    const port = await closedPort();
    const deadState = createCluster({
      primary: `postgres://postgres:state-pw@127.0.0.1:${port}/postgres`,
      healthCheck: { intervalMs: 0 },
      retry: false,
    });
    try {
      const cfg = configWith({ thresholds: { total: 1 } });
      await sessions.idle(cluster.url('pg-1'), 1);
      const result = await check(cfg, { stateDb: deadState });
      expect(sentOf(result)).toEqual(['orders-0 connections_total firing warning']);
      expect(publisher.events).toHaveLength(1);
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]).toMatch(/^alert state of cluster orders: .*ECONNREFUSED/);
      expect(result.problems[0]).not.toContain('state-pw');
    } finally {
      await deadState.close();
    }
  });

  it('reports the alert as sent, and says the state was not saved, when the control database dies after sending', async () => {
    const dyingState = createCluster({ primary: cluster.url('pg-0'), healthCheck: { intervalMs: 0 }, retry: false });
    const admin = new pg.Client(cluster.url('pg-0'));
    await admin.connect();
    try {
      const cfg = configWith({ thresholds: { total: 1 } });
      await sessions.idle(cluster.url('pg-1'), 1);
      const delivered = createLogPublisher(silentLogger);
      const killsStateSession: AlertPublisher = {
        async publish(events) {
          const result = await delivered.publish(events);
          // The lifecycle's transaction waits on this delivery: end its session before the new state is written.
          await admin.query(
            `select pg_terminate_backend(pid, 5000) from pg_stat_activity
             where state = 'idle in transaction' and query like '%from pgwarden.alert_state%'`,
          );
          return result;
        },
      };
      const result = await check(cfg, { stateDb: dyingState, publisher: killsStateSession });
      expect(sentOf(result)).toEqual(['orders-0 connections_total firing warning']);
      expect(delivered.events).toHaveLength(1);
      expect(result.published).toBe(1);
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]).toMatch(/^alert state of cluster orders not saved after sending: /);
      expect(await createAlertStateStore(stateDb).list()).toEqual([]);
    } finally {
      await admin.end();
      await dyingState.close();
    }
  });

  it('keeps the alert pending when publishing fails, so the next check sends it', async () => {
    const cfg = configWith({ thresholds: { total: 1 } });
    await sessions.idle(cluster.url('pg-1'), 1);
    const failing: AlertPublisher = {
      async publish() {
        throw new Error('queue unavailable');
      },
    };
    const failed = await check(cfg, { publisher: failing });
    expect(failed.problems).toEqual(['publishing the alerts of cluster orders failed: queue unavailable']);
    expect(failed.published).toBe(0);
    now += 30_000;
    expect(sentOf(await check(cfg))).toEqual(['orders-0 connections_total firing warning']);
  });
});
