export { createCluster } from './cluster.ts';
export type { ConnectionOptions } from './connection.ts';
export { endQuietly, withConnection } from './connection.ts';
export {
  ClusterClosedError,
  DbError,
  isConnectionError,
  isConstraintViolation,
  isReadOnlyError,
  isRetryable,
  NoHealthyNodeError,
  pgErrorCode,
  RetryExhaustedError,
} from './errors.ts';
export { parseLsn } from './lsn.ts';
export type { MigrateOptions, MigrateResult, Migration } from './migrate.ts';
export { migrate } from './migrate.ts';
export type { RetryPolicy } from './retry.ts';
export { backoffDelay, withRetry } from './retry.ts';
export type {
  Cluster,
  ClusterHooks,
  ClusterOptions,
  HealthCheckOptions,
  NodeRole,
  NodeSpec,
  NodeStats,
  PoolOptions,
  QueryContext,
  QueryResult,
  QueryResultRow,
  RetryOptions,
  TxClient,
  TxOptions,
} from './types.ts';
