export { deliveryChannels } from './cross-checks.ts';
export type { ConfigProblem } from './errors.ts';
export { ConfigError } from './errors.ts';
export { LINKED_SECRETS, loadLinkedConfig } from './linked.ts';
export type { LoadConfigOptions } from './load.ts';
export {
  ENV_VARS,
  loadConfig,
  mergeConfig,
  nodeAddress,
  parseNodeArg,
  registerConfigSecrets,
  topologySettingsFor,
  watchdogSettingsFor,
} from './load.ts';
export type {
  ClusterConfig,
  Config,
  LokiSettings,
  NodeConfig,
  ProxySettings,
  RawConfig,
  SlackSettings,
  TopologySettings,
  WatchdogSettings,
} from './schema.ts';
export { configSchema, durationMs, sizeBytes } from './schema.ts';
export { formatBytes, formatDuration, parseBytes, parseDuration } from './units.ts';
