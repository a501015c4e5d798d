import type { AlertPublisher } from '../../shared/alerts/index.ts';
import { createLogPublisher } from '../../shared/alerts/index.ts';
import type { Config } from '../../shared/config/index.ts';
import { type Cluster, createCluster, migrate } from '../../shared/db/index.ts';
import { MIGRATIONS, openAlertPublisher } from '../../shared/delivery/index.ts';
import type { Logger } from '../../shared/log/index.ts';

/**
 * What every function shares, created once per container (cold start) and reused while it is warm:
 * the control database pool (migrations applied once, under their advisory lock) and the alert publisher.
 */
export interface FunctionDeps {
  config: Config;
  logger: Logger;
  stateDb(): Promise<Cluster | undefined>;
  publisher(options?: { dryRun?: boolean }): Promise<AlertPublisher>;
}

export function createFunctionDeps(config: Config, logger: Logger): FunctionDeps {
  let db: Promise<Cluster | undefined> | undefined;
  let publisher: Promise<AlertPublisher> | undefined;
  const stateDb = () => {
    db ??= (async () => {
      if (!config.stateUrl) return undefined;
      const cluster = createCluster({
        primary: config.stateUrl,
        logger,
        pool: { max: 4, applicationName: 'pgwarden-lambda' },
        healthCheck: { intervalMs: 0 },
      });
      await migrate(cluster, MIGRATIONS, 'up', { logger });
      return cluster;
    })().catch((error: unknown) => {
      db = undefined; // the next invocation tries again
      throw error;
    });
    return db;
  };
  return {
    config,
    logger,
    stateDb,
    async publisher(options = {}) {
      if (options.dryRun) return createLogPublisher(logger, { prefix: 'dry-run: would send: ' });
      publisher ??= (async () => {
        await stateDb();
        return (await openAlertPublisher(config, logger)).publisher;
      })().catch((error: unknown) => {
        publisher = undefined;
        throw error;
      });
      return publisher;
    },
  };
}
