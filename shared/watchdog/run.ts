/**
 * The watchdog use case: check every node of the fleet in parallel, turn the stats into rule outcomes, run them
 * through the alert lifecycle, publish what it lets through. The Lambda handler and the CLI are thin callers.
 */
import { type AlertEvent, type AlertPublisher, createAlertStateStore, type LifecycleTiming } from '../alerts/index.ts';
import type { ClusterConfig, WatchdogSettings } from '../config/index.ts';
import { nodeAddress } from '../config/index.ts';
import type { Cluster } from '../db/index.ts';
import type { Logger } from '../log/index.ts';
import { silentLogger } from '../log/index.ts';
import { describeError } from '../redact/index.ts';
import { mapWithConcurrency } from './concurrency.ts';
import { WatchdogOptionsError, WatchdogPublishError } from './errors.ts';
import { formatCheckLine, formatEvent } from './format.ts';
import { createTestEvent, evaluateNode, type RuleTarget } from './rules.ts';
import { type ConnectionStats, checkNode, type NodeCheckOutcome } from './stats.ts';

export interface RunWatchdogOptions {
  /** The fleet: every node of every cluster is checked. */
  clusters: readonly ClusterConfig[];
  /** The watchdog settings of one cluster (`(c) => watchdogSettingsFor(config, c)`). */
  settings: (cluster: ClusterConfig) => WatchdogSettings;
  /** The control database holding `pgwarden.alert_state`. Without it (or in dry-run) every breach is reported. */
  stateDb?: Cluster;
  publisher: AlertPublisher;
  logger?: Logger;
  clock?: () => Date;
  /** Check and decide, publish nothing: log `[dry-run] would send: …` per event instead. */
  dryRun?: boolean;
  /** Also send one `test` event per cluster, whatever the lifecycle says. */
  forceNotification?: boolean;
  /** Nodes checked at once across the fleet. Default: the first cluster's `concurrency` setting. */
  concurrency?: number;
}

export interface NodeCheck {
  cluster: string;
  node: string;
  /** `host:port`. */
  address: string;
  outcome: NodeCheckOutcome['kind'];
  stats: ConnectionStats | null;
  /** Why the node could not be checked (secret-free), or null. */
  error: string | null;
  durationMs: number;
  /** The events sent for this node in this run (in dry-run: the ones that would have been sent). */
  events: AlertEvent[];
}

export interface WatchdogResult {
  checks: NodeCheck[];
  /** Events handed to the publisher. */
  published: number;
  /** `stateful` when the alert state decided what to send, `stateless` when every breach was reported. */
  lifecycle: 'stateful' | 'stateless';
  /** Failures that are not a node's: the control database or the publisher (secret-free, one line each). */
  problems: string[];
}

interface Checked {
  target: RuleTarget;
  cluster: ClusterConfig;
  settings: WatchdogSettings;
  outcome: NodeCheckOutcome;
  observations: AlertEvent[];
}

/**
 * Checks every node of `clusters` (bounded concurrency), evaluates the rules and publishes what the alert
 * lifecycle lets through. Node failures are results (`error` set), never exceptions.
 *
 * @example
 * const result = await runWatchdog({ clusters: config.clusters, settings: (c) => watchdogSettingsFor(config, c),
 *   stateDb, publisher, logger, clock: () => new Date(), dryRun: false, forceNotification: false });
 * const exitCode = result.checks.every((c) => c.stats) ? 0 : 1;
 */
export async function runWatchdog(options: RunWatchdogOptions): Promise<WatchdogResult> {
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? (() => new Date());
  const dryRun = options.dryRun ?? false;
  const first = options.clusters[0];
  const concurrency = options.concurrency ?? (first ? options.settings(first).concurrency : 1);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new WatchdogOptionsError('concurrency', `expected a whole number ≥ 1, got ${String(concurrency)}`);
  }

  const targets = options.clusters.flatMap((cluster) => {
    const settings = options.settings(cluster);
    return cluster.nodes.map((node) => {
      const { host, port } = nodeAddress(node);
      const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      return { cluster, settings, node, target: { cluster: cluster.name, node: node.name, address } };
    });
  });

  const checked: Checked[] = await mapWithConcurrency(targets, concurrency, async ({ cluster, settings, node, target }) => {
    const outcome = await checkNode(node.url, {
      connectTimeoutMs: settings.connectTimeout,
      queryTimeoutMs: settings.queryTimeout,
      staleAgeMs: settings.staleAge,
    });
    return { target, cluster, settings, outcome, observations: evaluateNode(target, outcome, settings, clock) };
  });

  const checks: NodeCheck[] = checked.map(({ target, outcome }) => ({
    cluster: target.cluster,
    node: target.node,
    address: target.address,
    outcome: outcome.kind,
    stats: outcome.kind === 'ok' ? outcome.stats : null,
    error: outcome.kind === 'ok' ? null : outcome.error,
    durationMs: Math.round(outcome.durationMs),
    events: [],
  }));
  for (const check of checks) logger.info(formatCheckLine(check));

  const store = options.stateDb && !dryRun ? createAlertStateStore(options.stateDb, { clock }) : undefined;
  const problems: string[] = [];
  let published = 0;

  const sent: AlertEvent[] = [];
  /** Hands events to the publisher (in dry-run: logs them) and records them as this run's events. */
  const publish = async (cluster: string, events: AlertEvent[]) => {
    if (events.length === 0) return;
    if (dryRun) {
      for (const event of events) logger.info(`[dry-run] would send: ${formatEvent(event)}`);
    } else {
      try {
        await options.publisher.publish(events);
      } catch (cause) {
        throw new WatchdogPublishError(cluster, { cause });
      }
      published += events.length;
    }
    sent.push(...events);
  };

  const clusterNames = [...new Set(checked.map((c) => c.target.cluster))];
  await Promise.all(
    clusterNames.map(async (name) => {
      const group = checked.filter((c) => c.target.cluster === name);
      const head = group[0] as Checked;
      const timing: LifecycleTiming = { forMs: head.settings.for, repeatIntervalMs: head.settings.repeatInterval };
      const observations = group.flatMap((c) => c.observations);
      const breaches = observations.filter((event) => event.status === 'firing');
      try {
        if (store) {
          let delivered = false;
          try {
            await store.apply({ lockKey: name, observations, timing }, async (events) => {
              await publish(name, events);
              delivered = true;
            });
          } catch (error) {
            if (error instanceof WatchdogPublishError) throw error;
            if (delivered) {
              // Sent, but the new state was not saved: the next check may repeat these once.
              problems.push(`alert state of cluster ${name} not saved after sending: ${describeError(error)}`);
              logger.error('alert state not saved after sending', { cluster: name, error: describeError(error) });
            } else {
              // The control database failed before anything was sent: report every breach rather than stay silent.
              problems.push(`alert state of cluster ${name}: ${describeError(error)}`);
              logger.error('alert state unavailable, reporting every breach without the lifecycle', {
                cluster: name,
                error: describeError(error),
              });
              await publish(name, breaches);
            }
          }
        } else {
          await publish(name, breaches);
        }
        if (options.forceNotification) {
          // `test` bypasses the lifecycle: every forced run sends one.
          await publish(name, [createTestEvent(head.target, head.outcome, head.settings, clock)]);
        }
      } catch (error) {
        const cause = error instanceof WatchdogPublishError ? error.cause : error;
        problems.push(`${error instanceof Error ? error.message : 'publishing failed'}: ${describeError(cause)}`);
        logger.error('publishing alerts failed', { cluster: name, error: describeError(cause) });
      }
    }),
  );

  for (const event of sent) {
    const check = checks.find((c) => c.cluster === event.cluster && c.node === event.node);
    check?.events.push(event);
  }
  return { checks, published, lifecycle: store ? 'stateful' : 'stateless', problems };
}
