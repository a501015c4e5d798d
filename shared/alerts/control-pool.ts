/**
 * The one rule that ties the control-database pool to the alert path (issue 13): every process that runs the
 * lifecycle (CLI, `pgwarden dev`, the Lambda functions, the delivery commands) opens its pool with
 * `controlDbPool`, and the watchdog runs at most `ALERT_PATH_CONCURRENCY` clusters through the lifecycle at once,
 * so no cluster waits in the pool's queue behind the fleet (where the pool's connect timeout would fail it).
 */
import { type Cluster, createCluster, type PoolOptions } from '../db/index.ts';
import type { Logger } from '../log/index.ts';

/**
 * Clusters in the lifecycle at once. Each holds one connection, its transaction, which also records the
 * deliveries, and never waits for a second connection while it holds it.
 */
export const ALERT_PATH_CONCURRENCY = 4;

/**
 * Connections the hand-off to the queue holds at once: the publisher keeps one batch in flight (dispatch-batcher),
 * which the direct queue's sender works as two ledger chunks at a time; SQS needs none.
 */
export const HAND_OFF_CONNECTIONS = 2;

/** Room beside the alert path: a sweep, a `delivery_dead` raised during the hand-off, a listing, the migrations. */
const SPARE_CONNECTIONS = 2;

/**
 * The control-database pool options: every lifecycle transaction, the hand-off and the spare connections at once.
 *
 * Use {@link createControlDb} to open the database; this is exported for what reports the pool's size.
 */
export function controlDbPool(applicationName: string): PoolOptions {
  return { max: ALERT_PATH_CONCURRENCY + HAND_OFF_CONNECTIONS + SPARE_CONNECTIONS, applicationName };
}

/**
 * The one opener of the control database: its pool sized by {@link controlDbPool}, one primary and no background
 * health checks (a failed query is the signal). `applicationName` says in `pg_stat_activity` which process it is.
 *
 * @example const stateDb = createControlDb(config.stateUrl, { applicationName: 'pgwarden-lambda', logger });
 */
export function createControlDb(url: string, options: { applicationName: string; logger?: Logger }): Cluster {
  return createCluster({
    primary: url,
    logger: options.logger,
    pool: controlDbPool(options.applicationName),
    healthCheck: { intervalMs: 0 },
  });
}
