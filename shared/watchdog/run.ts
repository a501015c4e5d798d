/**
 * The watchdog use case: check every node of the fleet in parallel, turn the stats into rule outcomes, run them
 * through the alert lifecycle, publish what it lets through. The Lambda handler and the CLI are thin callers.
 */
import {
  ALERT_PATH_CONCURRENCY,
  type AlertEvent,
  type AlertPublisher,
  type AlertStateStore,
  createAlertStateStore,
} from '../alerts/index.ts';
import { mapWithConcurrency } from '../concurrency/index.ts';
import type { ClusterConfig, WatchdogSettings } from '../config/index.ts';
import { nodeAddress } from '../config/index.ts';
import type { Cluster } from '../db/index.ts';
import type { Logger } from '../log/index.ts';
import { silentLogger } from '../log/index.ts';
import { type AlertPathRun, runAlertPath } from './alert-path.ts';
import { WatchdogOptionsError } from './errors.ts';
import { formatCheckLine } from './format.ts';
import type { NodeCheck, WatchdogResult } from './result.ts';
import { createTestEvent, evaluateNode, type RuleTarget } from './rules.ts';
import { checkNode, type NodeCheckOutcome } from './stats.ts';

export interface RunWatchdogOptions {
  /** The fleet: every node of every cluster is checked. */
  clusters: readonly ClusterConfig[];
  /** The watchdog settings of one cluster (`(c) => watchdogSettingsFor(config, c)`). */
  settings: (cluster: ClusterConfig) => WatchdogSettings;
  /** The control database holding `pgwarden.alert_state`. Without it or `alertStore` (or in dry-run) every breach is reported. */
  stateDb?: Cluster;
  /**
   * The lifecycle to use instead of the control database's: `watchdog --interval` without one keeps it in memory
   * across rounds (`createMemoryAlertStateStore`), so `for` and `repeatInterval` hold there too.
   */
  alertStore?: AlertStateStore;
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

  const store = dryRun
    ? undefined
    : (options.alertStore ?? (options.stateDb ? createAlertStateStore(options.stateDb, { clock }) : undefined));
  const problems: string[] = [];
  let published = 0;
  const sent: AlertEvent[] = [];
  const run: AlertPathRun = {
    store,
    publisher: options.publisher,
    dryRun,
    logger,
    problems,
    report(events, handedOver) {
      sent.push(...events);
      if (handedOver) published += events.length;
    },
    handOffs: [],
  };

  // With a lifecycle, bounded by the rule that sized the control-database pool (control-pool.ts): every cluster
  // in the alert path has its connection at once, so none waits in the pool's queue behind the fleet (issue 13).
  // Without one nothing here touches a database (no stateUrl, or dry-run), and every cluster goes at once.
  const clusterNames = [...new Set(checked.map((c) => c.target.cluster))];
  await mapWithConcurrency(clusterNames, store ? ALERT_PATH_CONCURRENCY : clusterNames.length, async (name) => {
    const group = checked.filter((c) => c.target.cluster === name);
    const head = group[0] as Checked;
    await runAlertPath(run, {
      name,
      observations: group.flatMap((c) => c.observations),
      timing: { forMs: head.settings.for, repeatIntervalMs: head.settings.repeatInterval },
      test: options.forceNotification ? createTestEvent(head.target, head.outcome, head.settings, clock) : undefined,
    });
  });
  await Promise.all(run.handOffs);

  for (const event of sent) {
    const check = checks.find((c) => c.cluster === event.cluster && c.node === event.node);
    check?.events.push(event);
  }
  return { checks, published, lifecycle: store ? 'stateful' : 'stateless', problems };
}
