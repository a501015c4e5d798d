/**
 * Cancel latency (proxy.bench.ts's "cancel latency through the RO port" arm): from sending a CancelRequest to the
 * cancelled query's 57014 reaching its client, through a port and direct to the node, as a driver cancels (pg's
 * `Connection.cancel` on a new connection with the session's process id and secret). A report, no target.
 */
import pg from 'pg';
import type { EmbeddedCluster, EmbeddedNode } from '../shared/embedded/index.ts';
import type { BenchRow } from './run.ts';

const SAMPLES = 30;
const SLEEP = 'select pg_sleep(30)';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** The part of pg's Connection a cancel uses (its typings leave these out). */
interface CancelConnection {
  on(event: 'connect' | 'end' | 'error', listener: () => void): void;
  connect(port: number, host: string): void;
  cancel(processID: number, secretKey: number): void;
}

function sendCancel(port: number, pid: number, key: number): Promise<void> {
  return new Promise((resolve) => {
    const connection = new pg.Connection() as unknown as CancelConnection;
    connection.on('error', () => resolve());
    connection.on('end', () => resolve());
    connection.on('connect', () => connection.cancel(pid, key));
    connection.connect(port, '127.0.0.1');
  });
}

/** Milliseconds from cancel to 57014, `SAMPLES` times, on one session opened through `port` (landing on `node`). */
async function latencies(cluster: EmbeddedCluster, port: number, node: EmbeddedNode): Promise<number[]> {
  const credentials = { host: '127.0.0.1', user: cluster.user, password: cluster.password, database: 'postgres' };
  const client = new pg.Client({ ...credentials, port });
  const watcher = new pg.Client({ ...credentials, port: node.port });
  await client.connect();
  await watcher.connect();
  const { processID: pid, secretKey: key } = client as unknown as { processID: number; secretKey: number };
  const samples: number[] = [];
  try {
    for (let i = 0; i < SAMPLES; i++) {
      const outcome = client.query(SLEEP).then(
        () => 'completed',
        (error: { code?: string }) => error.code ?? 'error',
      );
      for (;;) {
        const { rows } = await watcher.query("select 1 from pg_stat_activity where pid = $1 and state = 'active' and query = $2", [
          pid,
          SLEEP,
        ]);
        if (rows.length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const sent = performance.now();
      void sendCancel(port, pid, key);
      const code = await outcome;
      if (code !== '57014') throw new Error(`a cancel through port ${port} did not cancel the query (${code})`);
      samples.push(performance.now() - sent);
    }
  } finally {
    await client.end().catch(() => {});
    await watcher.end().catch(() => {});
  }
  return samples;
}

/** p50 and p99 through `roPort` (a proxy's read-only port, in front of `replica`) against direct to the replica. */
export async function cancelLatencyRows(cluster: EmbeddedCluster, roPort: number, replica: EmbeddedNode): Promise<BenchRow[]> {
  const direct = await latencies(cluster, replica.port, replica);
  const proxied = await latencies(cluster, roPort, replica);
  return [50, 99].map((p) => ({
    metric: `cancel latency through the RO port: p${p}, proxy vs direct`,
    value: Number(percentile(proxied, p).toFixed(2)),
    unit: 'ms',
    baseline: Number(percentile(direct, p).toFixed(2)),
    ratio: percentile(proxied, p) / percentile(direct, p),
    note: `${SAMPLES} cancels each; from sending the CancelRequest to the query's 57014`,
  }));
}
