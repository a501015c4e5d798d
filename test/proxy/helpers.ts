/** Shared pieces of the proxy tests: settings with free ports and quick checks, pg clients through the proxy. */
import pg from 'pg';
import type { ProxySettings } from '../../shared/config/index.ts';
import { configSchema } from '../../shared/config/index.ts';
import type { TestCluster } from '../harness/cluster.ts';

/** ProxyService settings on loopback with OS-chosen ports; checks every 200 ms so tests follow changes quickly. */
export function testSettings(overrides: Partial<ProxySettings> = {}): ProxySettings {
  return {
    ...configSchema.parse({}).proxy,
    rwPort: 0,
    roPort: 0,
    apiPort: 0,
    listenHost: '127.0.0.1',
    apiHost: '127.0.0.1',
    checkInterval: 200,
    checkTimeout: 1000,
    connectTimeout: 2000,
    drainTimeout: 2000,
    // The vitest project that runs these tests on the JavaScript data path sets this (vitest.config.ts).
    dataPath: process.env.PGWARDEN_TEST_PROXY_DATA_PATH === 'javascript' ? 'javascript' : 'auto',
    ...overrides,
  };
}

export function proxyNodes(cluster: TestCluster): Array<{ name: string; url: string }> {
  return cluster.nodes.map((node) => ({ name: node.name, url: cluster.url(node) }));
}

/** A connected pg client to a proxy port, with the cluster's credentials (they pass through the proxy). */
export async function clientVia(cluster: TestCluster, port: number): Promise<pg.Client> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: cluster.user,
    password: cluster.password,
    database: 'postgres',
    connectionTimeoutMillis: 5000,
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}

export interface WhereAmI {
  port: number;
  recovery: boolean;
}

export async function whereAmI(client: pg.Client): Promise<WhereAmI> {
  const { rows } = await client.query<{ port: number; recovery: boolean }>(
    'select inet_server_port() as port, pg_is_in_recovery() as recovery',
  );
  return rows[0] as WhereAmI;
}

/** Connects, asks where it landed, disconnects. */
export async function landOn(cluster: TestCluster, port: number): Promise<WhereAmI> {
  const client = await clientVia(cluster, port);
  try {
    return await whereAmI(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The error a client sees when it tries to connect (undefined when it connects). */
export async function connectError(cluster: TestCluster, port: number): Promise<(Error & { code?: string }) | undefined> {
  try {
    const client = await clientVia(cluster, port);
    await client.end();
    return undefined;
  } catch (error) {
    return error as Error & { code?: string };
  }
}

/** Polls `probe` until it returns a value other than undefined (or throws after `timeoutMs`). */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export async function getJson(
  port: number,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, init);
  const text = await response.text();
  return { status: response.status, body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text } };
}
