/**
 * Wiring from config to a running proxy, shared by `pgwarden proxy` and the `tasks/ha-proxy` container entry.
 */
import { hostname } from 'node:os';
import type { ClusterConfig, Config } from '../config/index.ts';
import { createKubeConfig, createLeaderElector } from '../k8s/index.ts';
import type { Logger } from '../log/index.ts';
import { ProxyOptionsError } from './errors.ts';
import { createProxy, type ProxyService } from './proxy.ts';
import type { LeaderElectorFactory } from './types.ts';

export interface ProxyRunOptions {
  readonly logger: Logger;
  /** A kubeconfig file for the Lease; default `config.topology.kubeconfig` (else in-cluster, KUBECONFIG or ~/.kube/config). */
  readonly kubeconfig?: string;
  /** An API server URL (loopback fakes); wins over `kubeconfig`. */
  readonly kubeServer?: string;
  /** This candidate's Lease identity. Default: `POD_NAME`, else the host name. */
  readonly identity?: string;
}

/** The one cluster the proxy fronts: the only configured one, or an error naming the choices. */
function proxyCluster(config: Config): ClusterConfig {
  if (config.clusters.length === 1) return config.clusters[0] as ClusterConfig;
  if (config.clusters.length === 0)
    throw new ProxyOptionsError('clusters: no nodes to proxy (give --url name=URL, PGWARDEN_URLS or a config file)');
  throw new ProxyOptionsError(
    `clusters: the proxy fronts one cluster, ${config.clusters.length} are configured (${config.clusters.map((c) => c.name).join(', ')}); pick one with --cluster or PGWARDEN_CLUSTER`,
  );
}

/** A Lease elector factory from the proxy settings, or undefined when no `lease` is configured. */
function leaseElectorFor(config: Config, options: ProxyRunOptions): LeaderElectorFactory | undefined {
  const settings = config.proxy;
  if (!settings.lease) return undefined;
  const lease = settings.lease;
  const kubeConfig = createKubeConfig({
    kubeconfig: options.kubeconfig ?? config.topology.kubeconfig,
    // An explicit file wins over the linked Kubeconfig secret's document.
    kubeconfigText: options.kubeconfig === undefined ? config.topology.kubeconfigText : undefined,
    server: options.kubeServer,
  });
  const identity = options.identity ?? process.env.POD_NAME ?? hostname();
  return (handlers) =>
    createLeaderElector({
      kubeConfig,
      name: lease,
      namespace: settings.namespace,
      identity,
      leaseDurationMs: settings.leaseDuration,
      renewDeadlineMs: settings.renewDeadline,
      retryPeriodMs: settings.retryPeriod,
      logger: options.logger,
      onStartedLeading: handlers.onStartedLeading,
      onStoppedLeading: handlers.onStoppedLeading,
    });
}

/**
 * Creates and starts the proxy for the configured cluster, with Lease election and the floating address when
 * configured. The caller owns signals: call `drain()` on SIGTERM.
 */
export async function startProxyFromConfig(config: Config, options: ProxyRunOptions): Promise<ProxyService> {
  const cluster = proxyCluster(config);
  if (config.proxy.vip && !config.proxy.lease) {
    options.logger.warn('vip without lease: this proxy adds the floating address as the only instance; run one replica only', {
      vip: config.proxy.vip,
    });
  }
  const proxy = createProxy({
    nodes: cluster.nodes,
    settings: config.proxy,
    logger: options.logger.child({ component: 'proxy', cluster: cluster.name }),
    elector: leaseElectorFor(config, options),
  });
  await proxy.start();
  return proxy;
}
