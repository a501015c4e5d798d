import type { Logger } from '../log/index.ts';
import type { AlertEvent } from './event.ts';

/**
 * The alert port: use cases (watchdog, topology, sweeper) hand their events here and do not know whether they
 * go to a queue, straight to the senders, or only to the log. `shared/delivery` supplies the real one.
 */
export interface AlertPublisher {
  publish(events: readonly AlertEvent[]): Promise<PublishResult>;
}

export interface PublishResult {
  /** Events accepted (recorded in the ledger and queued, or sent directly). */
  published: number;
  /** Deliveries created, one per (event, channel). */
  deliveries: number;
}

/** A publisher that only logs each event: dry-run, and any run with no channel configured. */
export function createLogPublisher(logger: Logger, options: { prefix?: string } = {}): AlertPublisher & { events: AlertEvent[] } {
  const events: AlertEvent[] = [];
  return {
    events,
    async publish(batch) {
      for (const event of batch) {
        events.push(event);
        logger.info(`${options.prefix ?? ''}alert ${event.status}: ${event.summary}`, {
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
