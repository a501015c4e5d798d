import type { AlertPublisher } from '../../shared/alerts/index.ts';
import { createControlDb, createLogPublisher } from '../../shared/alerts/index.ts';
import type { Config } from '../../shared/config/index.ts';
import { type Cluster, migrate } from '../../shared/db/index.ts';
import { type AlertQueue, MIGRATIONS, openAlertPublisher, openDeliveryQueue } from '../../shared/delivery/index.ts';
import type { Logger } from '../../shared/log/index.ts';

/**
 * What every function shares, created once per container (cold start) and reused while it is warm:
 * the control database pool (migrations applied once, under their advisory lock) and the alert publisher.
 */
export interface FunctionDeps {
  config: Config;
  logger: Logger;
  stateDb(): Promise<Cluster | undefined>;
  /** The control database, or an error that says which secret is missing (for functions that cannot run without it). */
  requireStateDb(): Promise<Cluster>;
  /** Where deliveries go (SQS per channel when deployed), made once per container. */
  queue(): Promise<AlertQueue>;
  publisher(options?: { dryRun?: boolean }): Promise<AlertPublisher>;
}

export function createFunctionDeps(config: Config, logger: Logger): FunctionDeps {
  let db: Promise<Cluster | undefined> | undefined;
  let publisher: Promise<AlertPublisher> | undefined;
  let queue: AlertQueue | undefined;
  const stateDb = () => {
    db ??= (async () => {
      if (!config.stateUrl) return undefined;
      const cluster = createControlDb(config.stateUrl, { applicationName: 'pgwarden-lambda', logger });
      await migrate(cluster, MIGRATIONS, 'up', { logger });
      return cluster;
    })().catch((error: unknown) => {
      db = undefined; // the next invocation tries again
      throw error;
    });
    return db;
  };
  const requireStateDb = async () => {
    const db = await stateDb();
    if (!db) throw new Error('this function needs the control database: set the StateUrl secret');
    return db;
  };
  return {
    config,
    logger,
    stateDb,
    requireStateDb,
    async queue() {
      queue ??= openDeliveryQueue(config, { db: await requireStateDb(), logger }).queue;
      return queue;
    },
    async publisher(options = {}) {
      if (options.dryRun) return createLogPublisher(logger, { dryRun: true });
      publisher ??= (async () => {
        // The module-scope pool: one control-database pool per container, shared with the use cases.
        const db = await stateDb();
        return (await openAlertPublisher(config, logger, { db })).publisher;
      })().catch((error: unknown) => {
        publisher = undefined;
        throw error;
      });
      return publisher;
    },
  };
}
