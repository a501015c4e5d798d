/**
 * One cluster of a watchdog run through the alert path: the lifecycle (when there is one) decides, the publisher
 * records and sends. Every failure becomes a line in the run's `problems` and a log record, never an exception,
 * so one cluster's trouble cannot hide another's alerts.
 */
import {
  type AlertEvent,
  AlertPublishError,
  type AlertPublisher,
  AlertStateError,
  type AlertStateStore,
  applyAndPublish,
  createLogPublisher,
  type LifecycleTiming,
} from '../alerts/index.ts';
import type { Logger } from '../log/index.ts';
import { describeError } from '../redact/index.ts';
import { WatchdogPublishError } from './errors.ts';

/** What every cluster of one run shares. */
export interface AlertPathRun {
  /** The lifecycle (the control database's, or one kept in memory); none: every breach is reported. */
  store: AlertStateStore | undefined;
  publisher: AlertPublisher;
  dryRun: boolean;
  logger: Logger;
  /** The run's problems; this file appends to it. */
  problems: string[];
  /** Adds events to the run's result. `published`: handed to the publisher in this run (not only previewed or recorded). */
  report(events: readonly AlertEvent[], published: boolean): void;
  /**
   * The queue hand-offs of committed clusters, started without waiting so the publisher can batch them; the run
   * awaits them all before it returns. They never reject (failures land in `problems`).
   */
  handOffs: Promise<void>[];
}

export interface ClusterAlerts {
  name: string;
  /** Every rule evaluated on the cluster's nodes, `firing` or `resolved`. */
  observations: readonly AlertEvent[];
  timing: LifecycleTiming;
  /** The `--force-notification` event, sent past the lifecycle. */
  test?: AlertEvent;
}

/**
 * Publishes `events` now. In dry-run they go to the one dry-run publisher on the run's logger instead
 * (`[dry-run] would send: …`, nothing sent), whatever publisher the caller passed. Throws `WatchdogPublishError`.
 */
async function publishNow(run: AlertPathRun, cluster: string, events: readonly AlertEvent[]): Promise<void> {
  if (events.length === 0) return;
  if (run.dryRun) {
    await createLogPublisher(run.logger, { dryRun: true }).publish(events);
    run.report(events, false);
    return;
  }
  try {
    await run.publisher.publish(events);
  } catch (cause) {
    throw new WatchdogPublishError(cluster, { cause });
  }
  run.report(events, true);
}

async function throughLifecycle(run: AlertPathRun, store: AlertStateStore, cluster: ClusterAlerts): Promise<void> {
  const { name } = cluster;
  try {
    const { events, dispatch } = await applyAndPublish(
      store,
      { lockKey: name, observations: cluster.observations, timing: cluster.timing },
      run.publisher,
    );
    run.handOffs.push(
      dispatch().then(
        () => run.report(events, true),
        (error: unknown) => {
          // The events are committed in the ledger with the state: they count as this run's, only not handed over.
          run.report(events, false);
          const cause = error instanceof AlertPublishError ? error.cause : error;
          recordProblem(run, name, new WatchdogPublishError(name, { cause, recorded: true }));
        },
      ),
    );
  } catch (error) {
    if (error instanceof AlertPublishError) throw new WatchdogPublishError(name, { cause: error.cause });
    const cause = error instanceof AlertStateError ? error.cause : error;
    if (error instanceof AlertStateError && error.sent.length > 0) {
      // Sent, but the new state was not saved: the next check may repeat these once.
      run.report(error.sent, true);
      run.problems.push(`alert state of cluster ${name} not saved after sending: ${describeError(cause)}`);
      run.logger.error('alert state not saved after sending', { cluster: name, error: describeError(cause) });
      return;
    }
    // The control database failed before anything was recorded or sent: report every breach rather than stay silent.
    run.problems.push(`alert state of cluster ${name}: ${describeError(cause)}`);
    run.logger.error('alert state unavailable, reporting every breach without the lifecycle', {
      cluster: name,
      error: describeError(cause),
    });
    await publishNow(run, name, breachesOf(cluster));
  }
}

function breachesOf(cluster: ClusterAlerts): AlertEvent[] {
  return cluster.observations.filter((event) => event.status === 'firing');
}

/**
 * Runs one cluster's observations through the lifecycle (or, without one, reports every breach) and sends its
 * test event. Never throws: failures land in `run.problems`.
 */
export async function runAlertPath(run: AlertPathRun, cluster: ClusterAlerts): Promise<void> {
  const { name } = cluster;
  try {
    if (run.store && !run.dryRun) await throughLifecycle(run, run.store, cluster);
    else await publishNow(run, name, breachesOf(cluster));
    // `test` bypasses the lifecycle: every forced run sends one.
    if (cluster.test) await publishNow(run, name, [cluster.test]);
  } catch (error) {
    recordProblem(run, name, error);
  }
}

/** One line in `problems` and one log record for a publish that failed. */
function recordProblem(run: AlertPathRun, name: string, error: unknown): void {
  const cause = error instanceof WatchdogPublishError ? error.cause : error;
  const recorded = error instanceof WatchdogPublishError && error.recorded;
  const what = error instanceof WatchdogPublishError ? error.message : `publishing the alerts of cluster ${name} failed`;
  // When `recorded`, the ledger's own error says that the sweeper publishes them again.
  run.problems.push(`${what}: ${describeError(cause)}`);
  run.logger.error('publishing alerts failed', { cluster: name, error: describeError(cause), recorded });
}
