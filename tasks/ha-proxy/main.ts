/**
 * The HA proxy container's entry: reads the config once from the environment (`PGWARDEN_*`, `PGWARDEN_CONFIG`) and linked secrets,
 * runs the proxy, drains on SIGTERM (Kubernetes and ECS stop a task with SIGTERM, then SIGKILL after the grace
 * period: keep `drainTimeout` below it) and exits 0; exits 2 on a config error, 1 when it cannot start.
 *
 * With `workers` above 1 the proxy's data-plane threads run this same bundle (shared/proxy/worker.ts), so the
 * container's own start-up runs on the main thread only.
 */
import { isMainThread } from 'node:worker_threads';
import { ConfigError, loadLinkedConfig, readLinkedSecret } from '../../shared/config/index.ts';
import { createLineLogger } from '../../shared/log/index.ts';
import { ProxyOptionsError, startProxyFromConfig } from '../../shared/proxy/index.ts';
import { describeError } from '../../shared/redact/index.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadLinkedConfig>;
  try {
    config = loadLinkedConfig(readLinkedSecret, process.env);
  } catch (error) {
    process.stderr.write(`ha-proxy: ${error instanceof ConfigError ? error.message : describeError(error)}\n`);
    process.exit(2);
  }

  const logger = createLineLogger({ level: config.log.level, format: config.log.format, fields: { service: 'ha-proxy' } });
  try {
    // PGWARDEN_KUBECONFIG is already in config.topology.kubeconfig, the Lease's default.
    const proxy = await startProxyFromConfig(config, { logger });
    let draining = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (draining) return;
      draining = true;
      logger.info('signal received: draining', { signal });
      proxy.drain().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error('drain failed', { error });
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  } catch (error) {
    logger.error('ha-proxy cannot start', { error: describeError(error) });
    process.exit(error instanceof ConfigError || error instanceof ProxyOptionsError ? 2 : 1);
  }
}

if (isMainThread) await main();
