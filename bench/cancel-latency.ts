/**
 * Cancel latency (proxy.bench.ts's "cancel latency through the RO port" arm): from sending a CancelRequest to the
 * cancelled query's 57014 reaching its client, through a port and direct to the node, as a driver cancels (a new
 * connection with the session's process id and secret). A report, no target.
 */
import { connect } from 'node:net';
import pg from 'pg';
import type { EmbeddedCluster, EmbeddedNode } from '../shared/embedded/index.ts';
import type { BenchRow } from './run.ts';

const SAMPLES = 60;
const SLEEP = 'select pg_sleep(30)';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** A CancelRequest as drivers send it: a new connection, 16 bytes (length, code 80877102, pid, secret), closed by the server. */
function sendCancel(port: number, pid: number, key: number): Promise<void> {
  return new Promise((resolve) => {
    const packet = Buffer.alloc(16);
    packet.writeInt32BE(16, 0);
    packet.writeInt32BE(80877102, 4);
    packet.writeInt32BE(pid, 8);
    packet.writeInt32BE(key, 12);
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(packet));
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    socket.resume();
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
        // Inside pg_sleep's wait, not merely 'active': a cancel in the first moments of a statement can be lost.
        const { rows } = await watcher.query("select 1 from pg_stat_activity where pid = $1 and query = $2 and wait_event = 'PgSleep'", [
          pid,
          SLEEP,
        ]);
        if (rows.length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const sent = performance.now();
      void sendCancel(port, pid, key);
      const code = await outcome;
      if (code !== '57014') throw new Error(`a cancel through port ${port} did not cancel the query (${code}, sample ${i})`);
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
