export type { AddressManager, CommandResult, CommandRunner, IpAddressManagerOptions } from './address.ts';
export { createCommandRunner, createIpAddressManager } from './address.ts';
export type { ExposureNotice, MutationVerdict } from './api-auth.ts';
export { authorizeMutation, describeApiExposure, isLoopbackHost, MUTATIONS_DISABLED } from './api-auth.ts';
export { pickLeastConnections } from './data-plane.ts';
export { AddressCommandError, ProxyError, ProxyListenError, ProxyOptionsError } from './errors.ts';
export type { NodeHealth, NodeMonitor, NodeMonitorOptions } from './health.ts';
export { createNodeMonitor } from './health.ts';
export type { ListenerName, ProxyMetrics } from './metrics.ts';
export type { CreateProxyOptions, ProxyService } from './proxy.ts';
export { createProxy } from './proxy.ts';
export type { NodeObservation, RoutePlan, SplitBrain } from './router.ts';
export { parseLsn, planRoutes } from './router.ts';
export type { ProxyRunOptions } from './run.ts';
export { startProxyFromConfig } from './run.ts';
export type { DataPath } from './splice.ts';
export type {
  LeaderElector,
  LeaderElectorFactory,
  NodeRole,
  NodeState,
  ProxyClock,
  ProxyDataPath,
  ProxyNode,
  ProxyState,
  ProxyStatus,
} from './types.ts';
export type { RefusalReason } from './wire.ts';
