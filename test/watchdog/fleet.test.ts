/**
 * issue 13, item 1: a fleet of 160 clusters through the alert path with the ledger on, on the 4-connection control
 * pool the user had, with a Slack that fails half its requests and a sweep after every round. Before the fix each
 * cluster's lifecycle transaction held a connection while its ledger insert waited for another: alerts never
 * reached the ledger, clusters fell back to "reporting every breach without the lifecycle", and the next round
 * re-sent alerts still firing inside `repeatInterval`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertPublisher } from '../../shared/alerts/index.ts';
import { watchdogSettingsFor } from '../../shared/config/index.ts';
import { type Cluster, createCluster, migrate } from '../../shared/db/index.ts';
import { createAlertDelivery, createDirectQueue, MIGRATIONS, openAlertPublisher, sweepDeliveries } from '../../shared/delivery/index.ts';
import { silentLogger } from '../../shared/log/index.ts';
import { createNotifiers } from '../../shared/notifiers/index.ts';
import { runWatchdog, toWatchdogJson } from '../../shared/watchdog/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { type SlackFake, startSlackFake } from '../harness/fakes/slack.ts';
import { fleetConfig } from './fleet.ts';
import { openSessions } from './sessions.ts';

const FLEET = 160;
const ROUNDS = 4;
const MINUTE = 60_000;

/** mulberry32: a seeded source, so a failing run can be replayed with the same Slack answers. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('the watchdog alert path under a fleet of 160 clusters', () => {
  let cluster: TestCluster;
  let stateDb: Cluster;
  let slack: SlackFake;
  const sessions = openSessions();

  beforeAll(async () => {
    cluster = await startTestCluster({ replicas: 2 });
    // The pool the user had (bin/cli.ts before issue 13): 4 connections shared by the alert state and the ledger.
    stateDb = createCluster({ primary: cluster.url('pg-0'), pool: { max: 4 }, healthCheck: { intervalMs: 0 } });
    await migrate(stateDb, MIGRATIONS, 'up');
    slack = await startSlackFake();
    // Every node always breaches `total ≥ 1`, so every cluster's alert keeps firing round after round.
    for (const node of cluster.nodes) await sessions.idle(cluster.url(node), 2);
  });
  afterAll(async () => {
    await sessions.closeAll();
    await slack?.close();
    await stateDb?.close();
    await cluster?.close();
  });

  it('loses no alert in any round and re-notifies none inside repeatInterval, with Slack failing half the time', async () => {
    const random = seeded(13);
    let now = Date.parse('2026-11-01T00:00:00Z');
    const clock = () => new Date(now);
    const config = fleetConfig(cluster, { size: FLEET, slackUrl: slack.url });
    const { publisher, mode, close } = await openAlertPublisher(config, silentLogger, { db: stateDb, clock });
    expect(mode).toBe('direct');
    const sweepQueue = createDirectQueue({ db: stateDb, notifiers: createNotifiers(config, { clock }), clock });
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // Half of Slack's answers this round (sends and sweeps) are 500s, at random.
        slack.respondWith(
          ...Array.from({ length: 2 * FLEET }, () =>
            random() < 0.5 ? { status: 500, body: 'rollup_error' } : { status: 200, body: 'ok' },
          ),
        );
        const result = await runWatchdog({
          clusters: config.clusters,
          settings: (c) => watchdogSettingsFor(config, c),
          stateDb,
          publisher,
          logger: silentLogger,
          clock,
        });
        await sweepDeliveries({ db: stateDb, queue: sweepQueue, clock, batchSize: 2 * FLEET });
        const ledger = await stateDb.query<{ clusters: number; deliveries: number }>(
          `select count(distinct cluster)::int as clusters, count(*)::int as deliveries
             from pgwarden.deliveries where rule = 'connections_total'`,
        );
        const states = await stateDb.query<{ firing: number }>(
          "select count(*)::int as firing from pgwarden.alert_state where rule = 'connections_total' and status = 'firing'",
        );
        // Every round: no problem, every cluster's alert in the ledger once (fired in round 1, held after), all firing.
        expect({
          round,
          problems: result.problems.slice(0, 3),
          published: result.published,
          clusters: ledger.rows[0]!.clusters,
          deliveries: ledger.rows[0]!.deliveries,
          firing: states.rows[0]!.firing,
        }).toEqual({ round, problems: [], published: round === 0 ? FLEET : 0, clusters: FLEET, deliveries: FLEET, firing: FLEET });
        now += 5 * MINUTE;
      }

      // What Slack saw: per cluster at most one message it accepted, and exactly one when the ledger says `sent`.
      const accepted = new Map<string, number>();
      for (const request of slack.requests) {
        const name = /fleet-\d+/.exec(request.raw)?.[0];
        if (name && request.status === 200) accepted.set(name, (accepted.get(name) ?? 0) + 1);
      }
      const rows = await stateDb.query<{ cluster: string; status: string }>(
        "select cluster, status from pgwarden.deliveries where rule = 'connections_total' order by cluster",
      );
      const mismatched = rows.rows.filter((row) => (accepted.get(row.cluster) ?? 0) !== (row.status === 'sent' ? 1 : 0));
      expect(mismatched).toEqual([]);
      expect(Math.max(...accepted.values())).toBe(1);
      // No row left behind: each is sent, waiting for its retry, or (after five failed tries) dead and visible.
      expect(rows.rows.filter((row) => !['sent', 'failed', 'dead'].includes(row.status))).toEqual([]);
      expect(slack.requests.filter((r) => r.status === 500).length).toBeGreaterThan(FLEET / 4);
    } finally {
      await close();
    }
    // Bounded, and generous for these 2 loaded cores: the run itself takes seconds, not minutes.
  }, 180_000);

  it('reports a queue that refuses as a problem, keeps the alert in the ledger and the state, and the sweeper sends it', async () => {
    await stateDb.exec('truncate pgwarden.deliveries, pgwarden.alert_state cascade');
    // A Slack of its own: the fleet test left random answers queued on the shared one.
    const slack = await startSlackFake();
    try {
      let now = Date.parse('2026-11-02T00:00:00Z');
      const clock = () => new Date(now);
      const config = fleetConfig(cluster, {
        size: 1,
        slackUrl: slack.url,
        clusters: [{ name: 'refused', nodes: [{ name: 'refused-0', url: cluster.url('pg-1') }] }],
      });
      const notifiers = createNotifiers(config, { clock });
      const refusing = createAlertDelivery({
        db: stateDb,
        queue: {
          async publish() {
            throw new Error('queue unavailable');
          },
        },
        notifiers,
        clock,
      });
      const check = (publisher: AlertPublisher) =>
        runWatchdog({
          clusters: config.clusters,
          settings: (c) => watchdogSettingsFor(config, c),
          stateDb,
          publisher,
          logger: silentLogger,
          clock,
        });

      const refused = await check(refusing);
      const problem =
        'publishing the alerts of cluster refused failed: 1 of 1 deliveries were not queued; they are recorded as failed and the sweeper will publish them again: queue unavailable';
      expect(toWatchdogJson(refused).problems).toEqual([problem]);
      expect(refused.checks[0]!.events.map((e) => `${e.rule} ${e.status}`)).toEqual(['connections_total firing']);
      const row = async () =>
        (
          await stateDb.query<{ status: string; next_retry_at: Date | null; last_error: string | null }>(
            "select status, next_retry_at, last_error from pgwarden.deliveries where cluster = 'refused'",
          )
        ).rows;
      // Recorded with the state, and handed back to the sweeper at once.
      expect(await row()).toEqual([{ status: 'failed', next_retry_at: new Date(now), last_error: 'not queued: queue unavailable' }]);
      const states = await stateDb.query<{ status: string }>("select status from pgwarden.alert_state where cluster = 'refused'");
      expect(states.rows.map((r) => r.status)).toEqual(['firing']);

      // The next check does not send it again (the lifecycle holds it); the sweeper delivers the recorded one.
      now += 30_000;
      const direct = createAlertDelivery({ db: stateDb, queue: 'direct', notifiers, clock });
      const next = await check(direct);
      expect({ problems: next.problems, published: next.published }).toEqual({ problems: [], published: 0 });
      const before = slack.received.length;
      const swept = await sweepDeliveries({ db: stateDb, queue: createDirectQueue({ db: stateDb, notifiers, clock }), clock });
      expect(swept.published).toBe(1);
      expect((await row()).map((r) => r.status)).toEqual(['sent']);
      expect(JSON.stringify(slack.received.slice(before))).toContain('refused/refused-0');
    } finally {
      await slack.close();
    }
  });
});
