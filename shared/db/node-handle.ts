/**
 * The cluster client's view of one node (its pool, role, timeline and health) and the state the client's parts
 * share: the nodes, the mode (fixed roles or discovery), logging and hooks.
 */
import pg from 'pg';
import type { Logger } from '../log/index.ts';
import { describeError, registerSecret } from '../redact/index.ts';
import type { ClusterHooks, ClusterOptions, NodeRole, NodeSpec, NodeStats } from './types.ts';

/** One node as the cluster client tracks it (mutable: health checks and failures update it). */
export interface NodeHandle {
  name: string;
  address: string;
  url: string;
  pool: pg.Pool;
  /** Fixed by configuration, or learnt from pg_is_in_recovery() in discovery mode. */
  role: NodeRole;
  /** The timeline the last health check read (discovery mode orders two primaries by it); null until known. */
  timeline: number | null;
  healthy: boolean;
  consecutiveFailures: number;
  lastError?: string;
  lastCheckedAt?: Date;
}

/** What every part of one cluster client reads. */
export interface ClusterContext {
  /** In fixed-role mode the primary comes first. */
  readonly nodes: readonly NodeHandle[];
  /** True when roles are discovered (`nodes`), false for fixed `primary`/`replicas`. */
  readonly discovery: boolean;
  readonly logger: Logger;
  readonly hooks: ClusterHooks;
  isClosed(): boolean;
}

function parseSpec(spec: NodeSpec): { name: string; url: string; address: string } {
  const url = typeof spec === 'string' ? spec : spec.url;
  let address: string;
  try {
    const parsed = new URL(url);
    if (parsed.password) registerSecret(decodeURIComponent(parsed.password));
    address = `${parsed.hostname}:${parsed.port || '5432'}`;
  } catch {
    throw new TypeError('createCluster: a node URL is not a valid postgres:// URL');
  }
  const name = typeof spec === 'string' || !spec.name ? address : spec.name;
  return { name, url, address };
}

function createNodeHandle(spec: NodeSpec, role: NodeRole, options: ClusterOptions, logger: Logger): NodeHandle {
  const { name, url, address } = parseSpec(spec);
  const Pool = options.Pool ?? pg.Pool;
  const poolOptions = options.pool ?? {};
  const pool = new Pool({
    connectionString: url,
    max: poolOptions.max ?? 10,
    idleTimeoutMillis: poolOptions.idleTimeoutMs ?? 30_000,
    connectionTimeoutMillis: poolOptions.connectTimeoutMs ?? 5000,
    statement_timeout: poolOptions.statementTimeoutMs,
    query_timeout: poolOptions.queryTimeoutMs,
    application_name: poolOptions.applicationName ?? 'pgwarden',
    keepAlive: true,
  });
  const node: NodeHandle = { name, address, url, pool, role, timeline: null, healthy: true, consecutiveFailures: 0 };
  // An idle client's socket can die (server restart); pg emits it on the pool. Unhandled it would crash.
  pool.on('error', (error) => {
    logger.warn('idle connection lost', { node: name, error: describeError(error) });
  });
  return node;
}

/** One handle (and pool) per configured node: roles `unknown` in discovery mode; names must be distinct. */
export function createNodeHandles(options: ClusterOptions, discovery: boolean, logger: Logger): NodeHandle[] {
  const nodes: NodeHandle[] = discovery
    ? (options.nodes ?? []).map((spec) => createNodeHandle(spec, 'unknown', options, logger))
    : [
        createNodeHandle(options.primary as NodeSpec, 'primary', options, logger),
        ...(options.replicas ?? []).map((spec) => createNodeHandle(spec, 'replica', options, logger)),
      ];
  const names = new Set<string>();
  for (const node of nodes) {
    if (names.has(node.name)) throw new TypeError(`createCluster: two nodes are named "${node.name}"; give them distinct names`);
    names.add(node.name);
  }
  return nodes;
}

/** What `Cluster.stats()` reports for a node: its pool's counts and last health, never its URL. */
export function nodeStats(node: NodeHandle): NodeStats {
  return {
    name: node.name,
    address: node.address,
    role: node.role,
    healthy: node.healthy,
    total: node.pool.totalCount,
    idle: node.pool.idleCount,
    waiting: node.pool.waitingCount,
    ...(node.lastError ? { lastError: node.lastError } : {}),
    ...(node.lastCheckedAt ? { lastCheckedAt: node.lastCheckedAt.toISOString() } : {}),
  };
}
