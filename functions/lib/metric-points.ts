/**
 * The figures of each use case's result, as metric points: derived here from what the use cases already return
 * (WatchdogResult, TopologyResult, the sender's outcomes, SweepResult, RequeueResult), so shared/ knows nothing
 * of metrics. Pure functions: the handlers record what they return.
 */
import type { AlertEvent, Channel } from '../../shared/alerts/index.ts';
import type { DeliveryResult, RequeueResult, SweepResult } from '../../shared/delivery/index.ts';
import type { TopologyResult } from '../../shared/topology/index.ts';
import type { WatchdogResult } from '../../shared/watchdog/index.ts';
import { METRIC } from './metric-names.ts';
import type { MetricPoint } from './metrics.ts';

const count = (name: MetricPoint['name'], value: number, dimensions?: Record<string, string>): MetricPoint => ({
  name,
  unit: 'Count',
  values: [value],
  ...(dimensions ? { dimensions } : {}),
});

/** Tallies `keys` in first-seen order. */
function tally(keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}

/** AlertsFired / AlertsResolved per rule, for the events a run published. */
export function alertMetrics(events: readonly AlertEvent[]): MetricPoint[] {
  const points: MetricPoint[] = [];
  for (const [status, name] of [
    ['firing', METRIC.alertsFired],
    ['resolved', METRIC.alertsResolved],
  ] as const) {
    const byRule = tally(events.filter((event) => event.status === status).map((event) => event.rule));
    for (const [rule, n] of byRule) points.push(count(name, n, { rule }));
  }
  return points;
}

/**
 * A watchdog run: ChecksRun (every node checked, also 0: the heartbeat), ChecksFailed, WatchdogProblems, CheckDuration
 * per cluster (one value per node), and the alerts it published (none in a dry run: nothing was sent).
 */
export function watchdogMetrics(result: WatchdogResult, options: { dryRun: boolean }): MetricPoint[] {
  const durations = new Map<string, number[]>();
  for (const check of result.checks) durations.set(check.cluster, [...(durations.get(check.cluster) ?? []), check.durationMs]);
  return [
    count(METRIC.checksRun, result.checks.length),
    count(METRIC.checksFailed, result.checks.filter((check) => check.error !== null).length),
    count(METRIC.watchdogProblems, result.problems.length),
    ...[...durations].map(
      ([cluster, values]): MetricPoint => ({ name: METRIC.checkDuration, unit: 'Milliseconds', values, dimensions: { cluster } }),
    ),
    ...(options.dryRun ? [] : alertMetrics(result.checks.flatMap((check) => check.events))),
  ];
}

/**
 * A topology round: ClustersProbed, TopologyUnsafe, EndpointsWriteFailures, ProbeDuration (the round), NodesUp and
 * NodesDown per cluster, NodeUp per node (1 when it answered as primary or replica), and the alerts published.
 */
export function topologyMetrics(results: readonly TopologyResult[], options: { dryRun: boolean; durationMs: number }): MetricPoint[] {
  const points: MetricPoint[] = [
    count(METRIC.clustersProbed, results.length),
    count(METRIC.topologyUnsafe, results.filter((result) => result.verdict !== 'ok').length),
    count(METRIC.endpointsWriteFailures, results.flatMap((result) => result.writes).filter((write) => write.action === 'failed').length),
    { name: METRIC.probeDuration, unit: 'Milliseconds', values: [Math.round(options.durationMs)] },
  ];
  for (const result of results) {
    const cluster = result.cluster;
    const up = [...result.primaries, ...result.replicas].map((ref) => ref.node);
    const down = [...result.down, ...result.unknown].map((ref) => ref.node);
    points.push(count(METRIC.nodesUp, up.length, { cluster }), count(METRIC.nodesDown, down.length, { cluster }));
    for (const node of up) points.push(count(METRIC.nodeUp, 1, { cluster, node }));
    for (const node of down) points.push(count(METRIC.nodeUp, 0, { cluster, node }));
  }
  if (!options.dryRun) points.push(...alertMetrics(results.flatMap((result) => result.events)));
  return points;
}

/** A sender batch: Deliveries per channel and outcome, and DeadDeliveries (also 0, so the graph has a line). */
export function deliveryMetrics(channel: Channel, results: readonly DeliveryResult[]): MetricPoint[] {
  // A record too malformed to name its channel was still taken from this sender's queue.
  const byOutcome = tally(results.map((result) => JSON.stringify([result.channel ?? channel, result.outcome])));
  return [
    ...[...byOutcome].map(([key, n]) => {
      const [onChannel, outcome] = JSON.parse(key) as [string, string];
      return count(METRIC.deliveries, n, { channel: onChannel, outcome });
    }),
    count(METRIC.deadDeliveries, results.filter((result) => result.outcome === 'dead').length),
  ];
}

/** A sweep: DeadDeliveries (rows promoted to dead), DeliveriesRetried, DeliveriesUnpublished. */
export function sweepMetrics(result: SweepResult): MetricPoint[] {
  return [
    count(METRIC.deadDeliveries, result.promotedDead),
    count(METRIC.deliveriesRetried, result.published),
    count(METRIC.deliveriesUnpublished, result.unpublished),
  ];
}

/** A requeue by hand: DeliveriesRequeued, DeliveriesUnpublished. */
export function requeueMetrics(result: RequeueResult): MetricPoint[] {
  return [count(METRIC.deliveriesRequeued, result.requeued.length), count(METRIC.deliveriesUnpublished, result.unpublished.length)];
}
