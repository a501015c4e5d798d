import pg from 'pg';

export interface ConnectionOptions {
  /** TCP connect + startup/auth handshake. Default 5 s. */
  connectTimeoutMs?: number;
  /** Server-side statement_timeout. */
  statementTimeoutMs?: number;
  /** Client-side limit per query; the connection is dropped after it. Default: connectTimeoutMs. */
  queryTimeoutMs?: number;
  applicationName?: string;
}

/** Ends a client without hanging on a peer that stopped answering. */
export async function endQuietly(client: pg.Client, timeoutMs = 1000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      resolve();
    }, timeoutMs);
  });
  await Promise.race([client.end().catch(() => {}), timeout]);
  clearTimeout(timer);
}

/**
 * A one-off session on one node: connects with a hard timeout, runs `fn`, always disconnects. For probes
 * (watchdog, topology, health) that must cost at most one timeout on a dead or black-holed node.
 *
 * @example const inRecovery = await withConnection(url, { connectTimeoutMs: 1000 }, async (c) =>
 *   (await c.query('select pg_is_in_recovery() as r')).rows[0].r);
 */
export async function withConnection<T>(url: string, options: ConnectionOptions, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: connectTimeoutMs,
    query_timeout: options.queryTimeoutMs ?? connectTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    application_name: options.applicationName ?? 'pgwarden',
    keepAlive: true,
  });
  // A socket error after connect surfaces through the pending query; this only keeps it from being unhandled.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    await endQuietly(client, 100);
    throw error;
  }
  try {
    return await fn(client);
  } finally {
    await endQuietly(client);
  }
}
