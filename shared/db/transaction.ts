/**
 * One attempt at a transaction on one node: begin, the body, commit; rollback on any throw; the connection is
 * discarded when it may be broken, and a connection lost after COMMIT is marked `commitUnknown` (never retried).
 */
import { isConnectionError } from './errors.ts';
import type { NodeHealth } from './health.ts';
import type { ClusterContext, NodeHandle } from './node-handle.ts';
import type { QueryContext, TxClient, TxOptions } from './types.ts';

/** `begin`, with the isolation level and read-only mode asked for. */
export function beginStatement(options: TxOptions): string {
  const mode = [options.isolation ? `isolation level ${options.isolation}` : '', options.readOnly ? 'read only' : '']
    .filter(Boolean)
    .join(' ');
  return mode ? `begin ${mode}` : 'begin';
}

/** Runs `fn` in one transaction on `node`, opened with `begin` (see `beginStatement`). */
export async function runTransactionOnce<T>(
  context: ClusterContext,
  health: NodeHealth,
  node: NodeHandle,
  begin: string,
  attempt: number,
  fn: (tx: TxClient) => Promise<T>,
): Promise<T> {
  const { hooks } = context;
  const queryContext: QueryContext = { node: node.name, role: node.role, sql: begin, attempt };
  const client = await node.pool.connect().catch((error: unknown) => {
    if (isConnectionError(error)) health.record(node, false, error);
    throw error;
  });
  // While the body runs no query may be in flight, so a dying connection is emitted as 'error' on the client
  // (the pool listens only while the client is idle): unhandled, that would crash the process. The next query
  // on the client fails, and the catch below discards it.
  let lostConnection: unknown;
  const onClientError = (error: unknown) => {
    lostConnection = error;
    health.record(node, false, error);
  };
  client.on('error', onClientError);
  let commitSent = false;
  try {
    hooks.onQueryStart?.(queryContext);
    const started = performance.now();
    await client.query(begin);
    const result = await fn({ query: (sql, params) => client.query(sql, params) });
    commitSent = true;
    await client.query('commit');
    client.off('error', onClientError);
    client.release();
    hooks.onQueryEnd?.({ ...queryContext, durationMs: performance.now() - started });
    return result;
  } catch (error) {
    // Rollback on any throw (also non-Error values); a failed rollback means the session is unusable.
    let rollbackFailed = false;
    if (!commitSent || !isConnectionError(error)) {
      await client.query('rollback').catch(() => {
        rollbackFailed = true;
      });
    }
    client.off('error', onClientError);
    client.release(
      rollbackFailed || lostConnection !== undefined || isConnectionError(error)
        ? new Error('transaction connection discarded')
        : undefined,
    );
    if (isConnectionError(error)) health.record(node, false, error);
    // A connection lost after COMMIT was sent leaves the outcome unknown: never retry that.
    if (commitSent && isConnectionError(error)) throw Object.assign(error as Error, { commitUnknown: true });
    throw error;
  }
}
