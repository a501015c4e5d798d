import type { QueryResult, QueryResultRow } from 'pg';
import type { Logger } from '../log/index.ts';

export type { QueryResult, QueryResultRow };

export type NodeRole = 'primary' | 'replica' | 'unknown';

/** A node given as a URL, or with a name (used in stats and logs; default `host:port`). */
export type NodeSpec = string | { name?: string; url: string };

export interface PoolOptions {
  /** Pool size per node. Default 10. */
  max?: number;
  /** Close idle clients after this long. Default 30 s. */
  idleTimeoutMs?: number;
  /** TCP + startup handshake limit for a new connection. Default 5 s. */
  connectTimeoutMs?: number;
  /** Server-side `statement_timeout` for every session. Default: none. */
  statementTimeoutMs?: number;
  /** Client-side limit on one query (the socket is dropped after it). Default: none. */
  queryTimeoutMs?: number;
  /** `application_name` sent to the server. Default `pgwarden`. */
  applicationName?: string;
}

export interface RetryOptions {
  /** Total attempts including the first. Default 3. `1` disables retries. */
  attempts?: number;
  /** First backoff ceiling. Default 50 ms. */
  baseDelayMs?: number;
  /** Largest backoff ceiling. Default 2 s. Full jitter: each sleep is uniform in [0, ceiling]. */
  maxDelayMs?: number;
}

export interface HealthCheckOptions {
  /** How often every node is checked. Default 5 s; 0 turns the background checker off. */
  intervalMs?: number;
  /** Limit for one check (connect + `select pg_is_in_recovery()`). Default 1 s. */
  timeoutMs?: number;
  /** Consecutive failures before a node is marked unhealthy. Default 1. */
  failureThreshold?: number;
}

export interface QueryContext {
  node: string;
  role: NodeRole;
  sql: string;
  /** 1 for the first attempt. */
  attempt: number;
}

export interface ClusterHooks {
  onQueryStart?(context: QueryContext): void;
  onQueryEnd?(context: QueryContext & { durationMs: number; error?: unknown; rowCount?: number | null }): void;
  /** A node changed health or role. */
  onNodeChange?(change: { node: string; healthy: boolean; role: NodeRole }): void;
}

export interface ClusterOptions {
  /** Fixed roles: the primary… */
  primary?: NodeSpec;
  /** …and its replicas. */
  replicas?: NodeSpec[];
  /** Discovered roles: any nodes; the primary is whichever says `pg_is_in_recovery() = false`. */
  nodes?: NodeSpec[];
  pool?: PoolOptions;
  retry?: RetryOptions | false;
  healthCheck?: HealthCheckOptions;
  /** Queries slower than this are logged at warn level. Default off. */
  slowQueryMs?: number;
  logger?: Logger;
  hooks?: ClusterHooks;
  /** For tests: the pg Pool class to use (default `pg.Pool`). */
  Pool?: typeof import('pg').Pool;
  /** For tests: random source for the backoff jitter, in [0, 1). */
  random?: () => number;
}

export interface TxOptions {
  isolation?: 'read committed' | 'repeatable read' | 'serializable';
  readOnly?: boolean;
  /** Retry the whole transaction on a retryable failure (serialization, deadlock, lost connection). Default true. */
  retry?: boolean;
}

/** What a transaction body gets: queries on the one connection of the transaction. */
export interface TxClient {
  query<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
}

export interface NodeStats {
  name: string;
  /** host:port, never the password. */
  address: string;
  role: NodeRole;
  healthy: boolean;
  total: number;
  idle: number;
  waiting: number;
  lastError?: string;
  lastCheckedAt?: string;
}

export interface Cluster {
  /** On the primary (with retries for retryable failures). */
  query<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
  /** On the primary; resolves to the affected row count. */
  exec(sql: string, params?: unknown[]): Promise<number>;
  /** On a healthy replica (round-robin), falling back to the primary when none is healthy. */
  readQuery<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
  /** Commits when `fn` resolves; rolls back and rethrows when it throws (even a non-Error). */
  runTx<T>(fn: (tx: TxClient) => Promise<T>, options?: TxOptions): Promise<T>;
  /** Checks every node now (what the background checker does each interval). */
  checkHealth(): Promise<void>;
  stats(): NodeStats[];
  /** The node currently routed writes, if known. */
  primaryName(): string | undefined;
  /** Idempotent; leaves no timer or socket. Later calls to query reject with ClusterClosedError. */
  close(): Promise<void>;
}
