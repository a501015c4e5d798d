/**
 * Two measurements on one embedded cluster.
 *
 * issue 13: the watchdog over 160 clusters (one node each, spread over the harness's 3 servers) through the alert
 * lifecycle on the control database, every cluster sending one alert each round (the clock moves past
 * `repeatInterval` between rounds): with the delivery ledger on (rows recorded in the lifecycle's transaction, then
 * sent through the direct queue to a loopback Slack), against the same run with publishing off (a publisher that
 * only keeps the events). Target: ledger on ≤ 1.5 × publishing off. Both on the pool `controlDbPool` sizes.
 *
 * issue 3: checking a fleet of 40 nodes (the harness's 3 real servers repeated, plus 10 black-holed nodes: a TCP
 * listener that accepts and never answers) runs every node at once, so the whole check costs about as much as
 * its slowest single node, which is a black-holed one (one connect timeout). Target: fleet ≤ 1.3 × slowest single.
 * The baseline is the same fleet checked one node after the other (what a per-node loop like pgwd's would cost).
 */
import pg from 'pg';
import { type AlertPublisher, controlDbPool, createLogPublisher } from '../shared/alerts/index.ts';
import { type ClusterConfig, loadConfig, watchdogSettingsFor } from '../shared/config/index.ts';
import { createCluster, migrate } from '../shared/db/index.ts';
import { MIGRATIONS, openAlertPublisher } from '../shared/delivery/index.ts';
import type { EmbeddedCluster } from '../shared/embedded/index.ts';
import { silentLogger } from '../shared/log/index.ts';
import { runWatchdog } from '../shared/watchdog/index.ts';
import { type Blackhole, blackhole, startTestCluster } from '../test/harness/cluster.ts';
import { startSlackFake } from '../test/harness/fakes/slack.ts';
import { fleetConfig } from '../test/watchdog/fleet.ts';
import type { Bench, BenchRow } from './run.ts';

const CONNECT_TIMEOUT = '1000ms';
const ROUNDS = 3;
const FLEET = 40;
const HOLES = 10;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

const ALERT_FLEET = 160;
const ALERT_ROUNDS = 5;
const HOUR = 3_600_000;

/** issue 13: 160 clusters through the alert path, ledger on against publishing off (one alert per cluster per round). */
async function alertPath(cluster: EmbeddedCluster): Promise<BenchRow[]> {
  const stateDb = createCluster({ primary: cluster.url('pg-0'), pool: controlDbPool('pgwarden-bench'), healthCheck: { intervalMs: 0 } });
  const slack = await startSlackFake();
  // One idle session per server, so `total ≥ 1` holds on every node however the checks interleave.
  const idle = cluster.nodes.map((node) => new pg.Client(cluster.url(node)));
  try {
    for (const client of idle) await client.connect();
    await migrate(stateDb, MIGRATIONS, 'up');
    await stateDb.exec('truncate pgwarden.alert_state, pgwarden.deliveries cascade');
    const config = fleetConfig(cluster, { size: ALERT_FLEET, slackUrl: slack.url });
    let now = Date.parse('2026-11-01T00:00:00Z');
    const clock = () => new Date(now);
    const ledger = await openAlertPublisher(config, silentLogger, { db: stateDb, clock });
    const round = async (publisher: AlertPublisher) => {
      now += HOUR; // past repeatInterval: every cluster's alert is sent again this round
      const started = performance.now();
      const result = await runWatchdog({
        clusters: config.clusters,
        settings: (c) => watchdogSettingsFor(config, c),
        stateDb,
        publisher,
        logger: silentLogger,
        clock,
      });
      return { ms: performance.now() - started, published: result.published, problems: result.problems.length };
    };
    await round(createLogPublisher(silentLogger)); // warm-up: first connections, the states' rows
    const on: number[] = [];
    const off: number[] = [];
    let published = Number.POSITIVE_INFINITY;
    let problems = 0;
    for (let i = 0; i < ALERT_ROUNDS; i++) {
      // Interleaved, so drift on these shared cores hits both arms alike.
      const withLedger = await round(ledger.publisher);
      on.push(withLedger.ms);
      published = Math.min(published, withLedger.published);
      problems += withLedger.problems;
      off.push((await round(createLogPublisher(silentLogger))).ms);
    }
    await ledger.close();
    const deliveries = await stateDb.query<{ n: number }>('select count(*)::int as n from pgwarden.deliveries');
    const ratio = median(on) / median(off);
    return [
      {
        metric: `watchdog over ${ALERT_FLEET} clusters, alert path with the ledger on (one alert per cluster per round)`,
        value: Math.round(median(on)),
        unit: 'ms',
        baseline: Math.round(median(off)),
        ratio,
        target: '≤ 1.5 × publishing off',
        pass: ratio <= 1.5 && published === ALERT_FLEET && problems === 0,
        note: `median of ${ALERT_ROUNDS}: on ${on.map(Math.round).join(', ')} ms, off ${off.map(Math.round).join(', ')} ms; ${published} published per round, ${problems} problems, ${deliveries.rows[0]!.n} ledger rows; pool ${controlDbPool('x').max}`,
      },
    ];
  } finally {
    await Promise.all(idle.map((client) => client.end().catch(() => {})));
    await slack.close();
    await stateDb.close();
  }
}

/** issue 3: 40 nodes (10 black-holed) in parallel against one node at a time. */
async function parallelFleet(cluster: EmbeddedCluster): Promise<BenchRow[]> {
  const holes: Blackhole[] = [];
  try {
    for (let i = 0; i < HOLES; i++) holes.push(await blackhole());
    const nodes: Array<{ name: string; url: string }> = [];
    for (let i = 0, hole = 0, up = 0; i < FLEET; i++) {
      if (i % 4 === 3) nodes.push({ name: `hole-${hole}`, url: (holes[hole++] as Blackhole).url() });
      else nodes.push({ name: `node-${up}`, url: cluster.url(cluster.nodes[up++ % cluster.nodes.length]!) });
    }
    const config = loadConfig({
      env: {},
      overrides: { watchdog: { connectTimeout: CONNECT_TIMEOUT, thresholds: { total: 1 } }, clusters: [{ name: 'fleet', nodes }] },
    });
    const fleet = config.clusters[0] as ClusterConfig;
    const check = async (only: ClusterConfig['nodes'], concurrency?: number) => {
      const started = performance.now();
      const result = await runWatchdog({
        clusters: [{ ...fleet, nodes: only }],
        settings: (c) => watchdogSettingsFor(config, c),
        publisher: createLogPublisher(silentLogger),
        logger: silentLogger,
        dryRun: true,
        concurrency,
      });
      return { ms: performance.now() - started, checked: result.checks.filter((c) => c.stats).length };
    };

    await check(fleet.nodes.slice(0, 3)); // warm-up: module loading, first connections
    // The slowest single node: each distinct kind of node checked alone, the slowest taken.
    const singles: number[] = [];
    for (const node of [fleet.nodes[0], fleet.nodes[1], fleet.nodes[2], fleet.nodes[3]]) singles.push((await check([node!])).ms);
    const slowest = Math.max(...singles);

    const rounds: number[] = [];
    let last = { ms: 0, checked: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      last = await check(fleet.nodes);
      rounds.push(last.ms);
    }
    const sequential = await check(fleet.nodes, 1);
    const ratio = median(rounds) / slowest;
    return [
      {
        metric: 'slowest single node (black-holed: one connect timeout)',
        value: Math.round(slowest),
        unit: 'ms',
        note: `connect timeout ${CONNECT_TIMEOUT}; singles ${singles.map((m) => Math.round(m)).join(', ')} ms`,
      },
      {
        metric: `fleet of ${FLEET} nodes (${HOLES} black-holed), in parallel`,
        value: Math.round(median(rounds)),
        unit: 'ms',
        baseline: Math.round(sequential.ms),
        ratio,
        target: '≤ 1.3 × slowest single node',
        pass: ratio <= 1.3 && last.checked === FLEET - HOLES,
        note: `ratio ${ratio.toFixed(2)}; median of ${ROUNDS}: ${rounds.map((m) => Math.round(m)).join(', ')} ms; ${last.checked} checked, ${FLEET - last.checked} unreachable; baseline = one node at a time`,
      },
    ];
  } finally {
    await Promise.all(holes.map((h) => h.close()));
  }
}

export default {
  name: 'watchdog: the alert path over 160 clusters; 40 nodes (10 black-holed) checked in parallel',
  async run() {
    const cluster = await startTestCluster({ replicas: 2 });
    try {
      return [...(await alertPath(cluster)), ...(await parallelFleet(cluster))];
    } finally {
      await cluster.close();
    }
  },
} satisfies Bench;
