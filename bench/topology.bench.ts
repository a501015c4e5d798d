/**
 * issue 5: probing 30 nodes of which 10 are black-holed (a TCP listener that accepts and never answers) must
 * finish within 1.2 × the connect timeout: every node is probed at once, and a dead node costs one connect
 * timeout, never a retry. The baseline is the same probe limited to 3 nodes at a time, like the anchor
 * endpoint-manager script's 3 workers, which needs about 10/3 connect timeouts for the same fleet.
 */
import type { NodeConfig } from '../shared/config/index.ts';
import { probeCluster } from '../shared/topology/index.ts';
import { type Blackhole, blackhole, startTestCluster } from '../test/harness/cluster.ts';
import type { Bench } from './run.ts';

const CONNECT_TIMEOUT_MS = 1000;
const ROUNDS = 3;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function timeProbe(nodes: readonly NodeConfig[], concurrency: number): Promise<{ ms: number; down: number; up: number }> {
  const started = performance.now();
  const probes = await probeCluster(nodes, { connectTimeoutMs: CONNECT_TIMEOUT_MS, queryTimeoutMs: 2000, retries: 2, concurrency });
  const ms = performance.now() - started;
  return {
    ms,
    down: probes.filter((p) => p.state === 'down').length,
    up: probes.filter((p) => p.state === 'primary' || p.state === 'replica').length,
  };
}

export default {
  name: 'topology probe: 30 nodes, 10 black-holed',
  async run() {
    const cluster = await startTestCluster({ replicas: 2 });
    const holes: Blackhole[] = [];
    try {
      for (let i = 0; i < 10; i++) holes.push(await blackhole());
      // 20 reachable entries over the 3 real servers (names differ, servers repeat), black holes interleaved
      // so a bounded pool meets them spread out, as a real fleet would.
      const real = cluster.nodes;
      const nodes: NodeConfig[] = [];
      for (let i = 0, hole = 0, up = 0; i < 30; i++) {
        if (i % 3 === 2) nodes.push({ name: `hole-${hole}`, url: (holes[hole++] as Blackhole).url() });
        else nodes.push({ name: `node-${up}`, url: cluster.url(real[up++ % real.length]!) });
      }
      await timeProbe(nodes.slice(0, 3), 3); // warm-up: first connections, module loading
      const ours: number[] = [];
      let last = { ms: 0, down: 0, up: 0 };
      for (let round = 0; round < ROUNDS; round++) {
        last = await timeProbe(nodes, 64);
        ours.push(last.ms);
      }
      const anchor = await timeProbe(nodes, 3);
      const ratio = median(ours) / CONNECT_TIMEOUT_MS;
      return [
        {
          metric: 'probe 30 nodes (10 black-holed), all at once',
          value: Math.round(median(ours)),
          unit: 'ms',
          ratio,
          target: '≤ 1.2 × connect timeout',
          pass: ratio <= 1.2 && last.down === 10 && last.up === 20,
          note: `connect timeout ${CONNECT_TIMEOUT_MS} ms; median of ${ROUNDS}: ${ours.map((m) => Math.round(m)).join(', ')} ms; ${last.up} up, ${last.down} down`,
        },
        {
          metric: 'same fleet with 3 workers (the anchor script)',
          value: Math.round(anchor.ms),
          unit: 'ms',
          ratio: anchor.ms / CONNECT_TIMEOUT_MS,
          note: 'for comparison: 3 workers meet 10 black holes, so about 10/3 connect timeouts (4 when they arrive spread out)',
        },
      ];
    } finally {
      await Promise.all(holes.map((h) => h.close()));
      await cluster.close();
    }
  },
} satisfies Bench;
