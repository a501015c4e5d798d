/**
 * issue 3: checking a fleet of 40 nodes (the harness's 3 real servers repeated, plus 10 black-holed nodes: a TCP
 * listener that accepts and never answers) runs every node at once, so the whole check costs about as much as
 * its slowest single node, which is a black-holed one (one connect timeout). Target: fleet ≤ 1.3 × slowest single.
 * The baseline is the same fleet checked one node after the other (what a per-node loop like pgwd's would cost).
 */
import { createLogPublisher } from '../shared/alerts/index.ts';
import { type ClusterConfig, loadConfig, watchdogSettingsFor } from '../shared/config/index.ts';
import { silentLogger } from '../shared/log/index.ts';
import { runWatchdog } from '../shared/watchdog/index.ts';
import { type Blackhole, blackhole, startTestCluster } from '../test/harness/cluster.ts';
import type { Bench } from './run.ts';

const CONNECT_TIMEOUT = '1000ms';
const ROUNDS = 3;
const FLEET = 40;
const HOLES = 10;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

export default {
  name: 'watchdog: 40 nodes (10 black-holed) checked in parallel',
  async run() {
    const cluster = await startTestCluster({ replicas: 2 });
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
      await cluster.close();
    }
  },
} satisfies Bench;
