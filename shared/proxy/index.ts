export type { AddressManager, CommandResult, CommandRunner, IpAddressManagerOptions } from './address.ts';
export { createCommandRunner, createIpAddressManager } from './address.ts';
export { AddressCommandError, ProxyConfigError, ProxyError, ProxyListenError } from './errors.ts';
export type { NodeHealth, NodeMonitor, NodeMonitorOptions } from './health.ts';
export { createNodeMonitor } from './health.ts';
export type { ListenerName, ProxyMetrics } from './metrics.ts';
export type {
  CreateProxyOptions,
  LeaderElector,
  LeaderElectorFactory,
  NodeRole,
  NodeState,
  ProxyClock,
  ProxyNode,
  ProxyService,
  ProxyState,
  ProxyStatus,
} from './proxy.ts';
export { createProxy, systemClock } from './proxy.ts';
export type { NodeObservation, RoutePlan, SplitBrain } from './router.ts';
export { parseLsn, pickLeastConnections, planRoutes } from './router.ts';
export type { ProxyRunOptions } from './run.ts';
export { leaseElectorFor, proxyCluster, startProxyFromConfig } from './run.ts';
export type { ByteCounter, DataPath } from './splice.ts';
export { defaultDataPath } from './splice.ts';
export type { RefusalReason } from './wire.ts';
export { encodeErrorResponse, REFUSAL_SQLSTATE } from './wire.ts';
