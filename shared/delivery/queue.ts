import type { DeliveryMessage } from '../alerts/index.ts';

/**
 * The queue port: where deliveries go once they are recorded in the ledger. Shaped by the domain (a list of
 * deliveries), not by SQS; the adapters are `createSqsQueue` and `createDirectQueue`.
 */
export interface AlertQueue {
  /** Resolves once every message is accepted; rejects with `DeliveryQueueError` naming the ones that were not. */
  publish(messages: readonly DeliveryMessage[]): Promise<void>;
}
