/**
 * The cluster client's factory. Its parts: `node-handle.ts` (a node's pool and state), `health.ts` (checks and
 * their schedule), `role-discovery.ts` (who is primary), `routing.ts` (where reads go), `node-query.ts` (one
 * observed statement), `transaction.ts` (one transaction attempt), `cluster-retry.ts` (the retry rule); this
 * file only wires them.
 */
import { silentLogger } from '../log/index.ts';
import { createClusterRetry } from './cluster-retry.ts';
import { ClusterClosedError, isConnectionError, isReadOnlyError } from './errors.ts';
import { createNodeHealth, scheduleHealthChecks } from './health.ts';
import { type ClusterContext, createNodeHandles, nodeStats } from './node-handle.ts';
import { createNodeQuery } from './node-query.ts';
import { createRoleDiscovery } from './role-discovery.ts';
import { createReadBalancer } from './routing.ts';
import { beginStatement, runTransactionOnce } from './transaction.ts';
import type { Cluster, ClusterOptions, QueryResult, QueryResultRow, TxClient, TxOptions } from './types.ts';

function validateOptions(options: ClusterOptions): void {
  const discovery = options.nodes !== undefined;
  if (discovery && (options.primary !== undefined || options.replicas !== undefined)) {
    throw new TypeError('createCluster: give either `nodes` (roles discovered) or `primary`/`replicas` (fixed roles), not both');
  }
  if (!discovery && options.primary === undefined) {
    throw new TypeError('createCluster: `primary` is required unless `nodes` is given');
  }
  if (discovery && options.nodes?.length === 0) throw new TypeError('createCluster: `nodes` must list at least one node');
}

/**
 * A client for one PostgreSQL cluster: writes to the primary, reads round-robin over healthy replicas with
 * fallback to the primary, retries retryable failures with full-jitter backoff, and a background health
 * checker. With `nodes` instead of `primary`/`replicas`, roles and timelines are discovered, a promotion is followed
 * without a restart, and two primaries are settled by shared/nodes' rule (newer timeline, else no writes).
 *
 * @example
 * const db = createCluster({ primary: process.env.PRIMARY_URL, replicas: [process.env.REPLICA_URL] });
 * await db.exec('insert into t values ($1)', [1]);
 * const { rows } = await db.readQuery('select count(*) from t');
 * await db.close();
 */
export function createCluster(options: ClusterOptions): Cluster {
  validateOptions(options);
  const discovery = options.nodes !== undefined;
  const logger = options.logger ?? silentLogger;
  let closed = false;
  const context: ClusterContext = {
    nodes: createNodeHandles(options, discovery, logger),
    discovery,
    logger,
    hooks: options.hooks ?? {},
    isClosed: () => closed,
  };
  const { nodes } = context;

  const health = createNodeHealth(context, options);
  const roles = createRoleDiscovery(context, health.checkAll);
  const stopHealthChecks = scheduleHealthChecks(context, options.healthCheck?.intervalMs ?? 5000, roles.rediscover);
  const balancer = createReadBalancer(context, roles);
  const runOn = createNodeQuery(context, health, options.slowQueryMs);
  const retrying = createClusterRetry(context, options);

  const ensureOpen = (operation: string) => {
    if (closed) throw new ClusterClosedError(operation);
  };

  /** In discovery mode a lost primary or a write refused as read-only means the roles may have changed. */
  const afterPrimaryFailure = async (error: unknown) => {
    if (discovery && (isConnectionError(error) || isReadOnlyError(error))) await roles.rediscover();
  };

  const query = async <R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>> => {
    ensureOpen('query');
    return retrying(async (attempt) => runOn<R>(await roles.primaryNode(), sql, params, attempt), afterPrimaryFailure);
  };

  const readQuery = async <R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>> => {
    ensureOpen('readQuery');
    await balancer.learnRoles();
    return retrying(async (attempt) => runOn<R>(await balancer.readNode(), sql, params, attempt));
  };

  const runTx = async <T>(fn: (tx: TxClient) => Promise<T>, txOptions: TxOptions = {}): Promise<T> => {
    ensureOpen('runTx');
    const begin = beginStatement(txOptions);
    const attemptTx = async (attempt: number) => runTransactionOnce(context, health, await roles.primaryNode(), begin, attempt, fn);
    if (txOptions.retry === false) return attemptTx(1);
    return retrying(attemptTx, afterPrimaryFailure);
  };

  return {
    query,
    async exec(sql, params) {
      const result = await query(sql, params);
      return result.rowCount ?? 0;
    },
    readQuery,
    runTx,
    checkHealth: async () => {
      ensureOpen('checkHealth');
      await roles.rediscover();
    },
    stats: () => nodes.map(nodeStats),
    primaryName: () => roles.primaryName(),
    async close() {
      if (closed) return;
      closed = true;
      stopHealthChecks();
      await roles.inFlight()?.catch(() => {});
      await Promise.all(nodes.map((n) => n.pool.end().catch(() => {})));
    },
  };
}
