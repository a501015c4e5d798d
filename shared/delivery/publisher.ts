import {
  type AlertEvent,
  type AlertPublisher,
  CHANNELS,
  type Channel,
  createControlDb,
  createLogPublisher,
  type DeliveryMessage,
  type PublishResult,
} from '../alerts/index.ts';
import type { Config } from '../config/index.ts';
import type { Cluster } from '../db/index.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import { createConsoleNotifier, createNotifiers, type FetchFn, type Notifier } from '../notifiers/index.ts';
import { describeError } from '../redact/index.ts';
import { createDirectQueue } from './direct-queue.ts';
import { createDispatchBatcher } from './dispatch-batcher.ts';
import { DeliveryQueueError, DeliveryUsageError } from './errors.ts';
import { insertPendingDeliveries, publishRecorded } from './ledger.ts';
import type { AlertQueue } from './queue.ts';
import { createSqsQueue } from './sqs-queue.ts';

export interface AlertDeliveryOptions {
  /** The control database holding `pgwarden.deliveries`. */
  db: Cluster;
  /** Where recorded deliveries go: a queue adapter, or `'direct'` to hand them to the sender in this process. */
  queue: AlertQueue | 'direct';
  notifiers: Partial<Record<Channel, Notifier>>;
  /** The channels each event is delivered to. Default: every channel with a notifier. */
  channels?: readonly Channel[];
  logger?: Logger;
  clock?: () => Date;
}

/**
 * The real `AlertPublisher`: each event gets one `pending` ledger row per channel (an (event, channel) already
 * recorded is skipped, so publishing twice delivers once), then the new rows are published to the queue.
 * When the queue refuses some, those rows are put back to `failed`, due now, so the sweeper publishes them again,
 * and `publish` rejects with a `DeliveryQueueError` that says so: nothing is lost, and the caller knows.
 * `record` is the first half on a caller's transaction (the alert lifecycle's), `dispatch` the second after its
 * COMMIT: the rows are saved with the alert state, and the queue is never called while the lock is held.
 *
 * @example
 * const publisher = createAlertDelivery({ db, queue: createSqsQueue({ queueUrl }), notifiers: createNotifiers(config) });
 * await publisher.publish([event]); // { published: 1, deliveries: 2 } with Slack and Loki configured
 */
export function createAlertDelivery(options: AlertDeliveryOptions): AlertPublisher {
  const channels = options.channels ?? CHANNELS.filter((channel) => options.notifiers[channel] !== undefined);
  if (channels.length === 0) {
    throw new DeliveryUsageError('channels', 'no channel to deliver to: configure Slack or Loki (or pass the channels explicitly)');
  }
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? (() => new Date());
  const queue =
    options.queue === 'direct' ? createDirectQueue({ db: options.db, notifiers: options.notifiers, logger, clock }) : options.queue;

  // Concurrent hand-offs (a fleet's clusters committing one after the other) share queue calls.
  const handOver = createDispatchBatcher((batch) => publishRecorded(options.db, queue, batch, clock));
  /** Hands recorded rows to the queue (on the pool: the caller's transaction, if any, has committed). */
  const dispatch = async (messages: readonly DeliveryMessage[], events: number): Promise<PublishResult> => {
    const unpublished = await handOver(messages);
    if (unpublished) {
      const { failed, returned, error } = unpublished;
      logger.error('deliveries could not be queued; the sweeper will publish them again', {
        deliveries: returned,
        error: `not queued: ${describeError(error)}`,
      });
      throw new DeliveryQueueError(
        `${failed.length} of ${messages.length} deliveries were not queued; they are recorded as failed and the sweeper will publish them again: ${describeError(error)}`,
        failed,
        { cause: error },
      );
    }
    logger.debug('alerts published', { events, deliveries: messages.length });
    return { published: events, deliveries: messages.length };
  };

  return {
    async publish(events) {
      if (events.length === 0) return { published: 0, deliveries: 0 };
      return dispatch(await insertPendingDeliveries(options.db, events, channels, clock()), events.length);
    },
    async record(tx, events) {
      const messages = events.length === 0 ? [] : await insertPendingDeliveries(tx, events, channels, clock());
      return {
        dispatch: () => (messages.length === 0 ? Promise.resolve({ published: 0, deliveries: 0 }) : dispatch(messages, events.length)),
      };
    },
  };
}

/**
 * A publisher with no ledger (no control database configured): sends each event to each notifier now and logs
 * the outcome. A failed send is not retried; that is the price of running without `stateUrl`, and it is logged.
 */
export function createUnrecordedPublisher(notifiers: Partial<Record<Channel, Notifier>>, logger: Logger = silentLogger): AlertPublisher {
  const configured = CHANNELS.flatMap((channel) => {
    const notifier = notifiers[channel];
    return notifier ? [notifier] : [];
  });
  return {
    async publish(events: readonly AlertEvent[]) {
      let deliveries = 0;
      for (const event of events) {
        for (const notifier of configured) {
          deliveries++;
          const fields = { channel: notifier.channel, rule: event.rule, cluster: event.cluster, eventId: event.id };
          try {
            const outcome = await notifier.send(event);
            if (outcome.kind === 'sent') logger.debug('alert delivered (no ledger)', fields);
            else logger.error('alert not delivered and not retried (no ledger)', { ...fields, error: outcome.error });
          } catch (error) {
            logger.error('alert not delivered and not retried (no ledger)', { ...fields, error: describeError(error) });
          }
        }
      }
      return { published: events.length, deliveries };
    },
  };
}

export interface OpenDeliveryOptions {
  dryRun?: boolean;
  clock?: () => Date;
  /** The fetch the notifiers use (tests, proxies). */
  fetch?: FetchFn;
  /** Where the console notifier writes when no channel is configured. Default stderr, so `--json` stdout stays clean. */
  consoleWrite?: (line: string) => void;
  /** One SQS queue per channel (the deployed layout); overrides `config.queue.url`. */
  queueUrls?: Partial<Record<Channel, string>>;
  /**
   * An open control database to reuse (a Lambda container's module-scope pool), so the process holds one pool.
   * The caller keeps owning it: `close()` leaves it open. Default: a pool opened from `config.stateUrl`.
   */
  db?: Cluster;
}

/** The warning a process gives at start when its alerts reach nobody but its own console. */
export const NO_CHANNEL_WARNING =
  'no alert channel configured (no Slack webhook, no Loki URL): alerts are only printed on this console and reach nobody else; set PGWARDEN_SLACK_WEBHOOK_URL or PGWARDEN_LOKI_URL (or --slack-webhook / --loki-url)';

export type PublisherMode = 'dry-run' | 'console' | 'unrecorded' | 'direct' | 'queue';

/** Opens the control database of a config (one primary, no background health checks). */
export function openControlDb(config: Pick<Config, 'stateUrl'>, logger: Logger = silentLogger): Cluster {
  if (!config.stateUrl) {
    throw new DeliveryUsageError('stateUrl', 'the control database is required: give --state-url or PGWARDEN_STATE_URL (postgres://…)');
  }
  return createControlDb(config.stateUrl, { applicationName: 'pgwarden-delivery', logger });
}

/**
 * The queue a config asks for: SQS when `queue.url` (or `queueUrls`, one queue per channel, as deployed) is set,
 * else the direct queue (deliveries sent by this process through the ledger). `close()` releases the SQS client.
 */
export function openDeliveryQueue(
  config: Pick<Config, 'queue' | 'slack' | 'loki'>,
  deps: {
    db: Cluster;
    logger?: Logger;
    clock?: () => Date;
    fetch?: FetchFn;
    queueUrls?: Partial<Record<Channel, string>>;
    /** The notifiers the direct queue sends through, when the caller has them already. Default: made from `config`. */
    notifiers?: Partial<Record<Channel, Notifier>>;
  },
): { queue: AlertQueue; mode: 'queue' | 'direct'; close(): void } {
  const logger = deps.logger ?? silentLogger;
  const perChannel = config.queue.urls && Object.values(config.queue.urls).some(Boolean) ? config.queue.urls : undefined;
  const queueUrl = deps.queueUrls ?? perChannel ?? config.queue.url;
  if (queueUrl) {
    const sqs = createSqsQueue({ queueUrl, region: config.queue.region, endpoint: config.queue.endpoint, logger });
    return { queue: sqs, mode: 'queue', close: () => sqs.close() };
  }
  const notifiers = deps.notifiers ?? createNotifiers(config, { logger, clock: deps.clock, fetch: deps.fetch });
  return { queue: createDirectQueue({ db: deps.db, notifiers, logger, clock: deps.clock }), mode: 'direct', close: () => {} };
}

/**
 * The publisher a config asks for, for CLI commands and functions:
 * - `dryRun` → events are only logged;
 * - no Slack or Loki configured → events are printed by the console notifier (no ledger);
 * - no `stateUrl` → events are sent directly, without a ledger (logged as such: failures are not retried);
 * - `queue.url` or `queueUrls` → ledger + SQS; otherwise ledger + direct sending in this process.
 *
 * @example
 * const { publisher, close } = await openAlertPublisher(config, logger, { dryRun: options.dryRun });
 * try { await publisher.publish(events); } finally { await close(); }
 */
export async function openAlertPublisher(
  config: Config,
  logger: Logger,
  options: OpenDeliveryOptions = {},
): Promise<{ publisher: AlertPublisher; mode: PublisherMode; close(): Promise<void> }> {
  const none = async () => {};
  if (options.dryRun) return { publisher: createLogPublisher(logger, { dryRun: true }), mode: 'dry-run', close: none };
  const notifiers = createNotifiers(config, { logger, clock: options.clock, fetch: options.fetch });
  // A deployed publisher (watchdog, topology) holds no sender credentials: `channels` names where alerts go.
  const channels = config.channels ?? CHANNELS.filter((channel) => notifiers[channel] !== undefined);
  if (channels.length === 0) {
    // Said once, when the publisher is opened (command start, cold start), and loudly: nobody but this console
    // hears these alerts (issue 13).
    logger.warn(NO_CHANNEL_WARNING);
    const write = options.consoleWrite ?? ((line: string) => process.stderr.write(`${line}\n`));
    return { publisher: createUnrecordedPublisher({ slack: createConsoleNotifier(write) }, logger), mode: 'console', close: none };
  }
  if (!config.stateUrl) {
    if (!notifiers.slack && !notifiers.loki) {
      throw new DeliveryUsageError(
        'stateUrl',
        `channels ${channels.join(', ')} are named but neither a sender nor a control database is configured here`,
      );
    }
    logger.warn('no control database (stateUrl): alerts are sent directly without a delivery ledger; failed sends are not retried');
    return { publisher: createUnrecordedPublisher(notifiers, logger), mode: 'unrecorded', close: none };
  }
  const db = options.db ?? openControlDb(config, logger);
  const opened = openDeliveryQueue(config, { db, logger, clock: options.clock, queueUrls: options.queueUrls, notifiers });
  const publisher = createAlertDelivery({ db, queue: opened.queue, notifiers, channels, logger, clock: options.clock });
  return {
    publisher,
    mode: opened.mode,
    async close() {
      opened.close();
      if (!options.db) await db.close();
    },
  };
}
