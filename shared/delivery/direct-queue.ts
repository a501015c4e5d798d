import { DeliveryQueueError } from './errors.ts';
import type { AlertQueue } from './queue.ts';
import { processDeliveryBatch, type SenderDeps } from './sender.ts';

/**
 * The queue for runs without one (no `queue.url`): each publish hands the deliveries straight to the sender use
 * case in this process, so they still go through the ledger (locks, outcomes, retries by the sweeper).
 * Send failures (a channel with no notifier among them) are recorded in the ledger like any other; only records
 * the sender could not take (malformed, ledger unreachable) make `publish` reject.
 */
export function createDirectQueue(deps: Omit<SenderDeps, 'channel' | 'queue'>): AlertQueue {
  return {
    async publish(messages) {
      if (messages.length === 0) return;
      const records = messages.map((message) => ({ messageId: message.deliveryId, body: JSON.stringify(message) }));
      // Two chunks at a time, sharing `chunkSize` send slots: one sends while the other talks to the ledger.
      const { batchItemFailures, results } = await processDeliveryBatch(records, { concurrency: 2, ...deps });
      if (batchItemFailures.length > 0) {
        const failed = new Set(batchItemFailures.map((failure) => failure.itemIdentifier));
        const reasons = [...new Set(results.filter((r) => failed.has(r.messageId)).map((r) => r.error ?? r.outcome))];
        throw new DeliveryQueueError(`${failed.size} of ${messages.length} deliveries could not be taken: ${reasons.join('; ')}`, [
          ...failed,
        ]);
      }
    },
  };
}
