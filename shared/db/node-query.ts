/**
 * One statement on one node's pool, observed: the query hooks, the slow-query log, and a connection-class
 * failure counted against the node's health.
 */
import type pg from 'pg';
import { isConnectionError } from './errors.ts';
import type { NodeHealth } from './health.ts';
import type { ClusterContext, NodeHandle } from './node-handle.ts';
import type { QueryContext, QueryResult, QueryResultRow } from './types.ts';

/** Runs `sql` on `node`; `attempt` (1 for the first) is what the hooks are told. */
export type NodeQuery = <R extends QueryResultRow>(
  node: NodeHandle,
  sql: string,
  params: unknown[] | undefined,
  attempt: number,
) => Promise<QueryResult<R>>;

/** The statement runner of one cluster client; queries slower than `slowQueryMs` are logged at warn level. */
export function createNodeQuery(context: ClusterContext, health: NodeHealth, slowQueryMs: number | undefined): NodeQuery {
  const { hooks, logger } = context;
  // Timing and the hook context cost on every query; only pay for them when someone looks.
  const observed = hooks.onQueryStart !== undefined || hooks.onQueryEnd !== undefined || slowQueryMs !== undefined;

  return async <R extends QueryResultRow>(node: NodeHandle, sql: string, params: unknown[] | undefined, attempt: number) => {
    const queryContext: QueryContext | undefined = observed ? { node: node.name, role: node.role, sql, attempt } : undefined;
    if (queryContext) hooks.onQueryStart?.(queryContext);
    const started = observed ? performance.now() : 0;
    let client: pg.PoolClient | undefined;
    try {
      client = await node.pool.connect();
      const result = await client.query<R>(sql, params);
      client.release();
      if (queryContext) {
        const durationMs = performance.now() - started;
        hooks.onQueryEnd?.({ ...queryContext, durationMs, rowCount: result.rowCount });
        if (slowQueryMs !== undefined && durationMs >= slowQueryMs) {
          logger.warn('slow query', { node: node.name, durationMs: Math.round(durationMs), sql: sql.replace(/\s+/g, ' ').slice(0, 200) });
        }
      }
      return result;
    } catch (error) {
      // A connection-class failure poisons the client: destroy it rather than return it to the pool.
      client?.release(isConnectionError(error) ? (error as Error) : undefined);
      if (queryContext) hooks.onQueryEnd?.({ ...queryContext, durationMs: performance.now() - started, error });
      if (isConnectionError(error)) health.record(node, false, error);
      throw error;
    }
  };
}
