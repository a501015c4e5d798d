import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogPublisher } from '../../shared/alerts/index.ts';
import { type Config, loadConfig, watchdogSettingsFor } from '../../shared/config/index.ts';
import { silentLogger } from '../../shared/log/index.ts';
import { checkNode, runWatchdog, toWatchdogJson } from '../../shared/watchdog/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { openSessions } from './sessions.ts';

const clock = () => new Date('2026-11-01T00:00:00Z');

// max_connections 5 − superuser_reserved_connections 1 − reserved_connections 1 (PostgreSQL 16+) = 3 usable.
describe('a node with few connection slots', () => {
  let cluster: TestCluster;
  const sessions = openSessions();
  const configWith = (watchdog: Record<string, unknown>): Config =>
    loadConfig({
      env: {},
      overrides: { watchdog, clusters: [{ name: 'tiny', nodes: [{ name: 'tiny-0', url: cluster.url('pg-0') }] }] },
    });
  const run = (cfg: Config) =>
    runWatchdog({
      clusters: cfg.clusters,
      settings: (c) => watchdogSettingsFor(cfg, c),
      publisher: createLogPublisher(silentLogger),
      clock,
    });

  beforeAll(async () => {
    cluster = await startTestCluster({
      replicas: 0,
      settings: { max_connections: 5, superuser_reserved_connections: 1, reserved_connections: 1 },
    });
  });
  afterEach(() => sessions.closeAll());
  afterAll(() => cluster?.close());

  it('subtracts both kinds of reserved slots from the usable connections', async () => {
    await sessions.idle(cluster.url('pg-0'), 1);
    const outcome = await checkNode(cluster.url('pg-0'), { connectTimeoutMs: 5000, queryTimeoutMs: 5000 });
    expect(outcome).toMatchObject({
      kind: 'ok',
      stats: {
        total: 1,
        maxConnections: 5,
        superuserReservedConnections: 1,
        roleReservedConnections: 1,
        reservedConnections: 2,
        usableConnections: 3,
        saturationPercent: 33.3,
      },
    });
  });

  it('fires only the highest saturation level breached, with its severity', async () => {
    const cfg = configWith({ levels: '30,60,90' });
    await sessions.idle(cluster.url('pg-0'), 2);
    const twoOfThree = await run(cfg);
    await sessions.idle(cluster.url('pg-0'), 1);
    const threeOfThree = await run(cfg);
    const saturation = (result: Awaited<ReturnType<typeof run>>) =>
      result.checks[0]!.events.map((e) => ({ rule: e.rule, severity: e.severity, value: e.value, threshold: e.threshold }));
    expect(saturation(twoOfThree)).toEqual([{ rule: 'connections_saturation', severity: 'warning', value: 66.7, threshold: 60 }]);
    expect(saturation(threeOfThree)).toEqual([{ rule: 'connections_saturation', severity: 'critical', value: 100, threshold: 90 }]);
    expect(threeOfThree.checks[0]!.events[0]!.summary).toBe(
      'tiny/tiny-0: 100% of usable connections in use, 3 of 3 usable (max_connections 5, 2 reserved); level 90%',
    );
    expect(toWatchdogJson(threeOfThree).checks[0]!.stats).toMatchObject({
      maxConnections: 5,
      reservedConnections: 2,
      usableConnections: 3,
    });
  });

  it('raises too_many_clients (critical), not connect_failure, when the server refuses with 53300', async () => {
    // Superusers may use every slot, reserved ones included: five sessions leave none for the watchdog.
    await sessions.idle(cluster.url('pg-0'), 5);
    const result = await run(configWith({}));
    const [check] = result.checks;
    expect(check).toMatchObject({ outcome: 'too_many_clients', stats: null });
    expect(check!.error).toMatch(/^53300 .*too many clients/);
    expect(check!.events.map((e) => ({ rule: e.rule, severity: e.severity, status: e.status, labels: e.labels }))).toEqual([
      {
        rule: 'too_many_clients',
        severity: 'critical',
        status: 'firing',
        labels: { address: `127.0.0.1:${cluster.node('pg-0').port}`, code: '53300' },
      },
    ]);
  });
});
