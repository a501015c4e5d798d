/**
 * issue 13: the alert path records deliveries in the lifecycle's own transaction and hands them to the queue
 * after COMMIT. Here on the topology use case (clusters in parallel, one lifecycle transaction each) and on the
 * rollback rule: recorded deliveries that did not commit with the state do not exist.
 */
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type AlertPublisher,
  AlertStateError,
  applyAndPublish,
  createAlertEvent,
  createAlertStateStore,
} from '../../shared/alerts/index.ts';
import { loadConfig, topologySettingsFor } from '../../shared/config/index.ts';
import { type Cluster, createCluster, migrate } from '../../shared/db/index.ts';
import { createAlertDelivery, MIGRATIONS } from '../../shared/delivery/index.ts';
import { silentLogger } from '../../shared/log/index.ts';
import { createNotifiers } from '../../shared/notifiers/index.ts';
import { createTopologyMonitor } from '../../shared/topology/index.ts';
import { closedPort, startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { type SlackFake, startSlackFake } from '../harness/fakes/slack.ts';

const CLUSTERS = 16;

describe('the alert path: deliveries recorded with the state, queued after COMMIT', () => {
  let cluster: TestCluster;
  let stateDb: Cluster;
  let slack: SlackFake;
  let now = Date.parse('2026-11-03T00:00:00Z');
  const clock = () => new Date(now);

  beforeAll(async () => {
    cluster = await startTestCluster({ replicas: 0 });
    // Smaller than the 16 clusters that run their lifecycle at once: each must never wait on a second connection.
    stateDb = createCluster({ primary: cluster.url(cluster.primary()), pool: { max: 4 }, healthCheck: { intervalMs: 0 }, retry: false });
    await migrate(stateDb, MIGRATIONS, 'up');
    slack = await startSlackFake();
  });
  beforeEach(async () => {
    await stateDb.exec('truncate pgwarden.deliveries, pgwarden.alert_state cascade');
  });
  afterAll(async () => {
    await slack?.close();
    await stateDb?.close();
    await cluster?.close();
  });

  const ledger = () => {
    const config = loadConfig({ env: {}, overrides: { slack: { webhookUrl: slack.url } } });
    return createAlertDelivery({ db: stateDb, queue: 'direct', notifiers: createNotifiers(config, { clock }), clock });
  };

  it('tells each of 16 clusters probed in parallel that a node is down, once, on a 4-connection pool', async () => {
    const port = await closedPort();
    const config = loadConfig({
      env: {},
      overrides: {
        topology: { connectTimeout: '1s' },
        clusters: Array.from({ length: CLUSTERS }, (_, i) => ({
          name: `ring-${i}`,
          nodes: [
            { name: 'pg', url: cluster.url(cluster.primary()) },
            { name: 'gone', url: `postgres://postgres:gone-pw@127.0.0.1:${port}/postgres` },
          ],
        })),
      },
    });
    const targets = config.clusters.map((c) => ({ cluster: c, settings: topologySettingsFor(config, c) }));
    const monitor = createTopologyMonitor();
    const publisher = ledger();
    const rounds: string[][] = [];
    for (let round = 0; round < 2; round++) {
      const results = await monitor.run({ targets, stateDb, publisher, logger: silentLogger, clock });
      rounds.push(results.flatMap((r) => r.events.map((e) => `${e.cluster} ${e.rule} ${e.node} ${e.status}`)));
      now += 10_000;
    }
    expect(rounds).toEqual([Array.from({ length: CLUSTERS }, (_, i) => `ring-${i} node_down gone firing`), []]);
    const rows = await stateDb.query<{ cluster: string; status: string }>(
      "select cluster, status from pgwarden.deliveries where rule = 'node_down' order by cluster",
    );
    expect(rows.rows).toHaveLength(CLUSTERS);
    expect(new Set(rows.rows.map((r) => r.cluster)).size).toBe(CLUSTERS);
    expect(rows.rows.every((r) => r.status === 'sent')).toBe(true);
  });

  it('leaves no delivery behind when the state cannot be committed after recording it, and sends nothing', async () => {
    const admin = new pg.Client(cluster.url(cluster.primary()));
    await admin.connect();
    try {
      const inner = ledger();
      const record = inner.record?.bind(inner);
      if (!record) throw new Error('the ledger publisher records in the caller transaction');
      const killsAfterRecording: AlertPublisher = {
        publish: (events) => inner.publish(events),
        async record(tx, events) {
          const recorded = await record(tx, events);
          // The lifecycle's session dies between the ledger insert and its COMMIT.
          await admin.query(
            `select pg_terminate_backend(pid, 5000) from pg_stat_activity
              where state = 'idle in transaction' and query like '%pgwarden.deliveries%'`,
          );
          return recorded;
        },
      };
      const observation = createAlertEvent(
        {
          rule: 'node_down',
          severity: 'warning',
          status: 'firing',
          cluster: 'orders',
          node: 'orders-1',
          client: 'topology',
          summary: 'orders-1 is down',
        },
        clock,
      );
      const before = slack.received.length;
      const failed = await applyAndPublish(
        createAlertStateStore(stateDb, { clock }),
        { lockKey: 'orders', observations: [observation], timing: { forMs: 0, repeatIntervalMs: 3_600_000 } },
        killsAfterRecording,
      ).catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(AlertStateError);
      expect((failed as AlertStateError).sent).toEqual([]);
      const counts = await stateDb.query<{ deliveries: number; states: number }>(
        `select (select count(*) from pgwarden.deliveries)::int as deliveries,
                (select count(*) from pgwarden.alert_state)::int as states`,
      );
      expect(counts.rows[0]).toEqual({ deliveries: 0, states: 0 });
      expect(slack.received.length).toBe(before);
    } finally {
      await admin.end();
    }
  });
});
