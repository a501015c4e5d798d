/**
 * The one rule that ties the control-database pool to the alert path (issue 13): every process that runs the
 * lifecycle (CLI, `pgwarden dev`, the Lambda functions) opens its pool with `controlDbPool`, and the watchdog runs
 * at most `ALERT_PATH_CONCURRENCY` clusters through the alert path at once, so no cluster ever waits in the pool's
 * queue behind the others (where the pool's connect timeout would fail it).
 */
import type { PoolOptions } from '../db/index.ts';

/**
 * Connections one cluster's alert path holds at once, at most: its lifecycle transaction (which records the
 * deliveries on its own connection), then, after COMMIT, the direct queue's sender (two ledger chunks in flight).
 * None of them waits for another connection while it holds one.
 */
export const ALERT_PATH_CONNECTIONS = 2;

/** Clusters that go through the alert path at once in one process. */
export const ALERT_PATH_CONCURRENCY = 4;

/**
 * The control-database pool options: room for every alert path at once, plus one for the rest (a sweep, a
 * listing, the migrations at start).
 *
 * @example createCluster({ primary: config.stateUrl, pool: controlDbPool('pgwarden-lambda'), healthCheck: { intervalMs: 0 } })
 */
export function controlDbPool(applicationName: string): PoolOptions {
  return { max: ALERT_PATH_CONCURRENCY * ALERT_PATH_CONNECTIONS + 1, applicationName };
}
