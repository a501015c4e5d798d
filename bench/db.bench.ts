/**
 * issue 2: readQuery throughput through the cluster client vs a bare pg.Pool on the same replica,
 * 8 concurrent workers. Arms are interleaved in alternating order (A B, B A, …) and the median ratio is reported, so drift in the
 * machine's load hits both arms alike.
 */
import pg from 'pg';
import { createCluster } from '../shared/db/index.ts';
import { startTestCluster } from '../test/harness/cluster.ts';
import type { Bench } from './run.ts';

const WORKERS = 8;
const ROUND_MS = Number(process.env.PGWARDEN_BENCH_ROUND_MS ?? 3000);
const ROUNDS = 6;
const SQL = 'select $1::int + 1 as n';

async function drive(query: (n: number) => Promise<unknown>, ms: number): Promise<number> {
  let done = 0;
  const deadline = performance.now() + ms;
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      while (performance.now() < deadline) {
        await query(w);
        done++;
      }
    }),
  );
  return done / (ms / 1000);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

const bench: Bench = {
  name: 'cluster client: readQuery vs bare pg.Pool',
  async run() {
    const cluster = await startTestCluster({ replicas: 1 });
    const replicaUrl = cluster.url(cluster.replicas()[0]!);
    const db = createCluster({
      primary: cluster.url(cluster.primary()),
      replicas: [replicaUrl],
      pool: { max: WORKERS },
      healthCheck: { intervalMs: 0 },
    });
    const bare = new pg.Pool({ connectionString: replicaUrl, max: WORKERS });
    // Idle clients see 57P01 when the cluster stops at the end; unhandled, that error would crash the run.
    bare.on('error', () => {});
    try {
      // Warm both pools to full size so connection setup is not measured.
      await drive((n) => db.readQuery(SQL, [n]), 500);
      await drive((n) => bare.query(SQL, [n]), 500);
      const ours: number[] = [];
      const baseline: number[] = [];
      const ratios: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        // ABBA order: whichever arm runs second in a round does not always get the warmer (or busier) machine.
        const first = round % 2 === 0;
        const b0 = first ? await drive((n) => bare.query(SQL, [n]), ROUND_MS) : 0;
        const o = await drive((n) => db.readQuery(SQL, [n]), ROUND_MS);
        const b = first ? b0 : await drive((n) => bare.query(SQL, [n]), ROUND_MS);
        baseline.push(b);
        ours.push(o);
        ratios.push(o / b);
      }
      const ratio = median(ratios);
      return [
        {
          metric: 'readQuery throughput, 8 workers',
          value: median(ours),
          unit: 'queries/s',
          baseline: median(baseline),
          ratio,
          target: '≥ 0.95',
          pass: ratio >= 0.95,
          note: `median of ${ROUNDS} interleaved ${ROUND_MS / 1000} s rounds; ratios ${ratios.map((r) => r.toFixed(3)).join(' ')}`,
        },
      ];
    } finally {
      await db.close();
      await bare.end();
      await cluster.close();
    }
  },
};

export default bench;
