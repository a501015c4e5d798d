import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogPublisher } from '../../shared/alerts/index.ts';
import { type Config, loadConfig, watchdogSettingsFor } from '../../shared/config/index.ts';
import { createMemoryLogger, silentLogger } from '../../shared/log/index.ts';
import { checkNode, formatCheckLine, runWatchdog, toWatchdogJson, type WatchdogJson } from '../../shared/watchdog/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { openSessions } from './sessions.ts';

const clock = () => new Date('2026-11-01T00:00:00Z');

describe('connection stats of a node', () => {
  let cluster: TestCluster;
  const sessions = openSessions();
  let config: (overrides: Record<string, unknown>) => Config;

  beforeAll(async () => {
    cluster = await startTestCluster({ replicas: 1 });
    const admin = new pg.Client(cluster.url(cluster.primary()));
    await admin.connect();
    await admin.query('create database other');
    await admin.query("create role app_user login password 'app-user-password'");
    await admin.end();
    config = (overrides) =>
      loadConfig({
        env: {},
        overrides: {
          clusters: [
            {
              name: 'orders',
              nodes: [
                { name: 'orders-0', url: cluster.url('pg-0') },
                { name: 'orders-1', url: cluster.url('pg-1') },
              ],
            },
          ],
          ...overrides,
        },
      });
  });
  afterEach(() => sessions.closeAll());
  afterAll(() => cluster?.close());

  it('counts client sessions of every database by state, without the watchdog itself or replication senders', async () => {
    const primary = cluster.url('pg-0');
    await sessions.idle(primary, 3, 'orders-api');
    await sessions.idle(cluster.url('pg-0', { database: 'other' }), 1, 'other-db');
    await sessions.active(primary, 2, 'reports');
    await sessions.idleInTransaction(cluster.url('pg-0', { user: 'app_user', password: 'app-user-password' }), 2, 'billing');
    await sessions.idleInTransactionAborted(cluster.url('pg-0', { user: 'app_user', password: 'app-user-password' }), 1, 'billing');

    const outcome = await checkNode(primary, { connectTimeoutMs: 5000, queryTimeoutMs: 5000 });
    expect(outcome.kind).toBe('ok');
    if (outcome.kind !== 'ok') return;
    expect(outcome.stats).toMatchObject({
      total: 9,
      active: 2,
      idle: 4,
      idleInTransaction: 2,
      idleInTransactionAborted: 1,
      stale: 0,
      maxConnections: 100,
      superuserReservedConnections: 3,
      roleReservedConnections: 0,
      reservedConnections: 3,
      usableConnections: 97,
      saturationPercent: 9.3,
      topApplications: [
        { name: 'billing', count: 3 },
        { name: 'orders-api', count: 3 },
        { name: 'reports', count: 2 },
        { name: 'other-db', count: 1 },
      ],
      topUsers: [
        { name: 'postgres', count: 6 },
        { name: 'app_user', count: 3 },
      ],
    });
    expect(outcome.stats.longestTransactionSeconds).toBeGreaterThan(0);
    expect(formatCheckLine({ cluster: 'orders', node: 'orders-0', stats: outcome.stats, error: null })).toBe(
      'cluster=orders node=orders-0 total=9 active=2 idle=4 idle_in_tx=2 stale=0 max=100 usable=97 (9%)',
    );
  });

  it('reports no open transaction as a longest transaction of 0 seconds', async () => {
    await sessions.idle(cluster.url('pg-0'), 2);
    const outcome = await checkNode(cluster.url('pg-0'), { connectTimeoutMs: 5000, queryTimeoutMs: 5000 });
    expect(outcome).toMatchObject({ kind: 'ok', stats: { total: 2, idle: 2, longestTransactionSeconds: 0 } });
  });

  it('counts sessions older than staleAge as stale, and none when staleAge is longer than their age', async () => {
    await sessions.idle(cluster.url('pg-0'), 3);
    const young = await checkNode(cluster.url('pg-0'), { connectTimeoutMs: 5000, queryTimeoutMs: 5000, staleAgeMs: 3_600_000 });
    // Every session was opened (and queried) before this check started, so each is older than 1 ms.
    const old = await checkNode(cluster.url('pg-0'), { connectTimeoutMs: 5000, queryTimeoutMs: 5000, staleAgeMs: 1 });
    expect(young).toMatchObject({ kind: 'ok', stats: { total: 3, stale: 0 } });
    expect(old).toMatchObject({ kind: 'ok', stats: { total: 3, stale: 3 } });
  });

  it('checks every node of the fleet and raises one event per breached threshold (dry-run publishes none)', async () => {
    const primary = cluster.url('pg-0');
    await sessions.idle(primary, 3);
    await sessions.active(primary, 2);
    await sessions.idleInTransaction(primary, 2);
    const cfg = config({
      watchdog: { thresholds: { total: 7, active: 2, idle: 4, idleInTransaction: 2, stale: 7 }, staleAge: '1ms' },
    });
    const publisher = createLogPublisher(silentLogger);
    const logger = createMemoryLogger();
    const result = await runWatchdog({
      clusters: cfg.clusters,
      settings: (c) => watchdogSettingsFor(cfg, c),
      publisher,
      logger,
      clock,
      dryRun: true,
    });

    expect(result.checks.map((c) => [c.node, c.stats?.total, c.error])).toEqual([
      ['orders-0', 7, null],
      ['orders-1', 0, null],
    ]);
    const [primaryCheck, replicaCheck] = result.checks;
    expect(
      primaryCheck!.events.map((e) => ({ rule: e.rule, severity: e.severity, status: e.status, value: e.value, threshold: e.threshold })),
    ).toEqual([
      { rule: 'connections_total', severity: 'warning', status: 'firing', value: 7, threshold: 7 },
      { rule: 'connections_active', severity: 'warning', status: 'firing', value: 2, threshold: 2 },
      { rule: 'connections_idle_in_transaction', severity: 'warning', status: 'firing', value: 2, threshold: 2 },
      { rule: 'connections_stale', severity: 'warning', status: 'firing', value: 7, threshold: 7 },
    ]);
    expect(primaryCheck!.events[0]).toMatchObject({
      cluster: 'orders',
      node: 'orders-0',
      summary: 'orders/orders-0: 7 connections (threshold 7)',
      labels: { address: `127.0.0.1:${cluster.node('pg-0').port}` },
    });
    expect(replicaCheck!.events).toEqual([]);
    expect(publisher.events).toEqual([]);
    expect(result.published).toBe(0);
    const lines = logger.records.map((r) => r.message);
    expect(lines).toContain('cluster=orders node=orders-0 total=7 active=2 idle=3 idle_in_tx=2 stale=7 max=100 usable=97 (7%)');
    expect(lines).toContain('cluster=orders node=orders-1 total=0 active=0 idle=0 idle_in_tx=0 stale=0 max=100 usable=97 (0%)');
    expect(lines).toContain('[dry-run] would send: warning connections_total firing: orders/orders-0: 7 connections (threshold 7)');
    expect(lines.filter((l) => l.startsWith('[dry-run] would send:'))).toHaveLength(4);
    // What a Lambda handler returns (the --json document, through JSON) prints the same lines.
    const returned = JSON.parse(JSON.stringify(toWatchdogJson(result))) as WatchdogJson;
    expect(returned.checks.map(formatCheckLine)).toEqual(result.checks.map(formatCheckLine));
  });

  it('lets a cluster override the global thresholds', async () => {
    await sessions.idle(cluster.url('pg-0'), 2);
    const cfg = loadConfig({
      env: {},
      overrides: {
        watchdog: { thresholds: { total: 50 } },
        clusters: [
          { name: 'orders', nodes: [{ name: 'orders-0', url: cluster.url('pg-0') }], watchdog: { thresholds: { total: 2 } } },
          { name: 'billing', nodes: [{ name: 'billing-0', url: cluster.url('pg-0') }] },
        ],
      },
    });
    const publisher = createLogPublisher(silentLogger);
    const result = await runWatchdog({ clusters: cfg.clusters, settings: (c) => watchdogSettingsFor(cfg, c), publisher, clock });
    expect(result.checks.map((c) => [c.cluster, c.events.map((e) => `${e.rule}:${e.threshold}`)])).toEqual([
      ['orders', ['connections_total:2']],
      ['billing', []],
    ]);
    expect(publisher.events.map((e) => e.cluster)).toEqual(['orders']);
  });
});
