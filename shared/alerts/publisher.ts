import type { TxClient } from '../db/index.ts';
import type { Logger } from '../log/index.ts';
import type { AlertEvent } from './event.ts';
import { describeWouldSend, formatEventLine } from './event-line.ts';

/**
 * The alert port: use cases (watchdog, topology, sweeper) hand their events here and do not know whether they
 * go to a queue, straight to the senders, or only to the log. `shared/delivery` supplies the real one.
 */
export interface AlertPublisher {
  publish(events: readonly AlertEvent[]): Promise<PublishResult>;
  /**
   * `publish` in two halves, for a caller inside a control-database transaction (the alert lifecycle): `record`
   * writes the deliveries on that transaction's own connection, so they commit or roll back with the new alert
   * state and publishing never waits for a second connection while the caller holds one (issue 13); the
   * `dispatch` it returns hands them to the queue and is called after COMMIT, outside the lock. Publishers with
   * nothing to record (log, console, no ledger) leave it out and are called with `publish` instead.
   */
  record?(tx: TxClient, events: readonly AlertEvent[]): Promise<RecordedAlerts>;
}

/** Deliveries recorded inside a transaction, waiting for its COMMIT to be handed to the queue. */
export interface RecordedAlerts {
  /** Publishes what was recorded. Rejects when the queue refused some; the ledger still holds them. */
  dispatch(): Promise<PublishResult>;
}

export interface PublishResult {
  /** Events accepted (recorded in the ledger and queued, or sent directly). */
  published: number;
  /** Deliveries created, one per (event, channel). */
  deliveries: number;
}

/**
 * A publisher that only logs each event (its event line), and with `dryRun` the dry-run path every command and
 * function shares: each event logged as `[dry-run] would send: …`, nothing sent.
 */
export function createLogPublisher(logger: Logger, options: { dryRun?: boolean } = {}): AlertPublisher & { events: AlertEvent[] } {
  const describe = options.dryRun ? describeWouldSend : formatEventLine;
  const events: AlertEvent[] = [];
  return {
    events,
    async publish(batch) {
      for (const event of batch) {
        events.push(event);
        logger.info(describe(event), {
          rule: event.rule,
          severity: event.severity,
          cluster: event.cluster,
          node: event.node,
          value: event.value,
          threshold: event.threshold,
        });
      }
      return { published: batch.length, deliveries: 0 };
    },
  };
}
