/**
 * The CloudWatch metrics the functions publish (Embedded Metric Format, written by functions/lib/metrics.ts) and the
 * names the alarms in infra/ watch. Pure (no SDK, no SST globals), so infra/alarms-config.ts and the tests import
 * the very names the handlers write.
 */
import type { FunctionName } from '../../shared/invoke/names.ts';

/** Every pgwarden metric lives in this CloudWatch namespace. */
export const METRICS_NAMESPACE = 'pgwarden';

/**
 * Metric names. Every metric carries the dimensions `service` (`pgwarden-<function>`) and `stage`; the ones noted
 * carry one more, chosen for bounded cardinality (a cluster, a rule, a channel and outcome; a node only for NodeUp).
 */
export const METRIC = {
  /** watchdog: nodes checked in a run (also the heartbeat the "watchdog stopped" alarm watches). */
  checksRun: 'ChecksRun',
  /** watchdog: nodes that could not be checked (unreachable, query failed). */
  checksFailed: 'ChecksFailed',
  /** watchdog, per `cluster`: how long each node's check took, one value per node. */
  checkDuration: 'CheckDuration',
  /** watchdog: failures that are not a node's (alert state, publishing), as in `--json`'s `problems`. */
  watchdogProblems: 'WatchdogProblems',
  /** watchdog and topology, per `rule`: alert events published as firing. */
  alertsFired: 'AlertsFired',
  /** watchdog and topology, per `rule`: alert events published as resolved. */
  alertsResolved: 'AlertsResolved',
  /** topology: clusters probed in a run. */
  clustersProbed: 'ClustersProbed',
  /** topology: clusters whose verdict was not `ok` (no primary, several primaries). */
  topologyUnsafe: 'TopologyUnsafe',
  /** topology: how long a round took (every cluster is probed in parallel, so: the slowest cluster). */
  probeDuration: 'ProbeDuration',
  /** topology, per `cluster`: nodes that answered as primary or replica. */
  nodesUp: 'NodesUp',
  /** topology, per `cluster`: nodes that could not be reached or whose probe failed. */
  nodesDown: 'NodesDown',
  /** topology, per `cluster` and `node`: 1 while the node answers as primary or replica, else 0. */
  nodeUp: 'NodeUp',
  /** topology: Kubernetes endpoints objects whose read or write failed. */
  endpointsWriteFailures: 'EndpointsWriteFailures',
  /** send-slack and send-loki, per `channel` and `outcome` (sent, failed, dead, already_sent, …, rejected, error). */
  deliveries: 'Deliveries',
  /** send-slack, send-loki (a send gave up) and sweep (rows that used up their attempts): deliveries now `dead`. */
  deadDeliveries: 'DeadDeliveries',
  /** sweep: due deliveries published again. */
  deliveriesRetried: 'DeliveriesRetried',
  /** sweep and requeue: deliveries the queue refused (due again at the next sweep). */
  deliveriesUnpublished: 'DeliveriesUnpublished',
  /** requeue: deliveries made pending again by hand. */
  deliveriesRequeued: 'DeliveriesRequeued',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** The functions whose results count dead deliveries (one "dead deliveries" alarm each). */
export const DEAD_DELIVERY_SOURCES = ['send-slack', 'send-loki', 'sweep'] as const satisfies readonly FunctionName[];

/**
 * The `service` of a function's logs and metrics: `pgwarden-watchdog`.
 *
 * @example serviceName('send-slack') // 'pgwarden-send-slack'
 */
export function serviceName(fn: FunctionName): string {
  return `pgwarden-${fn}`;
}
