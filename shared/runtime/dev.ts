import type { Cluster } from '../db/index.ts';
import { countDeliveriesByStatus } from '../delivery/index.ts';
import type { Logger } from '../log/index.ts';
import { describeError } from '../redact/index.ts';
import type { TopologyResult } from '../topology/index.ts';
import { formatCheckLine, type WatchdogJson } from '../watchdog/index.ts';
import type { LocalQueues } from './local-queue.ts';
import { type QueueHandler, type QueuePoller, startQueuePoller } from './poller.ts';
import { parseSchedule, type ScheduledJob, scheduleJob } from './schedule.ts';
import type { DevView } from './view.ts';

/** A scheduled or manually invoked function as Lambda calls it. */
export type FunctionHandler = (event: unknown, context: Record<string, unknown>) => Promise<unknown>;

export type ScheduledName = 'watchdog' | 'topology' | 'sweep';

export interface DevRuntimeOptions {
  /** The very handlers deployed as Lambda functions (bin/ imports functions/ and passes them in). */
  scheduled: Record<ScheduledName, FunctionHandler>;
  /** Queue consumers, one per channel queue. */
  senders: Partial<Record<string, QueueHandler>>;
  /** The schedule expressions infra/ deploys for the stage. */
  schedules: Record<ScheduledName, string>;
  queues: LocalQueues;
  /** The control database, to show deliveries by status. */
  stateDb: Cluster;
  view: DevView;
  logger: Logger;
  /** How often delivery counts are read. Default 2 s. */
  countsEveryMs?: number;
}

export interface DevRuntime {
  /** Invokes a scheduled function now (as `pgwarden invoke` would), with an optional manual payload. */
  invoke(name: ScheduledName, payload?: Record<string, unknown>): Promise<unknown>;
  /** Resolves when every scheduled function has run at least once. */
  firstRound: Promise<void>;
  stop(): Promise<void>;
}

/** What EventBridge Scheduler hands a target by default. */
function scheduledEvent(name: string) {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.scheduler',
    time: new Date().toISOString(),
    detail: { function: name },
  };
}

/** Shows what a handler returned, in the view's words. */
function render(view: DevView, name: ScheduledName, output: unknown): void {
  if (name === 'watchdog') {
    for (const check of (output as WatchdogJson).checks ?? []) {
      view.connections(formatCheckLine(check));
      for (const event of check.events) view.alert(event);
    }
  } else if (name === 'topology') {
    for (const result of (output as { clusters?: TopologyResult[] }).clusters ?? []) {
      view.topology(result);
      for (const event of result.events) view.alert(event);
    }
  } else {
    const sweep = output as { due?: number; published?: number; promotedDead?: number };
    if ((sweep.due ?? 0) > 0 || (sweep.promotedDead ?? 0) > 0) {
      view.info(`sweep: ${sweep.published ?? 0} due retries published again, ${sweep.promotedDead ?? 0} made dead`);
    }
  }
}

/**
 * The local runtime: each scheduled handler on its deployed schedule (croner), each channel queue fed to its
 * sender handler as real SQS events with partial batch failures applied, delivery counts shown as they change.
 * It drives the handlers it is given and reimplements none of them.
 */
export function startDevRuntime(options: DevRuntimeOptions): DevRuntime {
  const { view, logger } = options;
  const invoke = async (name: ScheduledName, payload?: Record<string, unknown>) => {
    const event = payload ?? scheduledEvent(name);
    try {
      const output = await options.scheduled[name](event, { functionName: `pgwarden-local-${name}`, awsRequestId: crypto.randomUUID() });
      render(view, name, output);
      return output;
    } catch (error) {
      view.warn(`${name} failed: ${describeError(error)}`);
      throw error;
    }
  };

  const jobs: ScheduledJob[] = [];
  const firsts: Array<Promise<void>> = [];
  for (const name of ['topology', 'watchdog', 'sweep'] as const) {
    const schedule = parseSchedule(options.schedules[name]);
    let resolveFirst: () => void = () => {};
    firsts.push(
      new Promise<void>((resolve) => {
        resolveFirst = resolve;
      }),
    );
    jobs.push(
      scheduleJob(
        schedule,
        async () => {
          try {
            await invoke(name);
          } finally {
            resolveFirst();
          }
        },
        { runAtStart: true, onError: () => {} },
      ),
    );
    view.info(`${name} runs on ${schedule.expression}`);
  }

  const pollers: QueuePoller[] = [];
  for (const [channel, handler] of Object.entries(options.senders)) {
    const queueUrl = options.queues.queueUrls[channel];
    if (!handler || !queueUrl) continue;
    pollers.push(
      startQueuePoller({ client: options.queues.client, queueUrl, handler, logger, functionName: `pgwarden-local-send-${channel}` }),
    );
  }

  let countsTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  const showCounts = async () => {
    try {
      view.deliveries(await countDeliveriesByStatus(options.stateDb));
    } catch (error) {
      logger.debug('delivery counts unavailable', { error: describeError(error) });
    }
    if (!stopped) countsTimer = setTimeout(showCounts, options.countsEveryMs ?? 2000);
  };
  countsTimer = setTimeout(showCounts, options.countsEveryMs ?? 2000);

  return {
    invoke,
    firstRound: Promise.all(firsts).then(() => {}),
    async stop() {
      stopped = true;
      if (countsTimer) clearTimeout(countsTimer);
      for (const job of jobs) job.stop();
      await Promise.all(jobs.map((job) => job.idle()));
      await Promise.all(pollers.map((poller) => poller.stop()));
    },
  };
}
