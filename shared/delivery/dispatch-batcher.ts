/**
 * Group commit for the queue hand-off: one publish in flight per publisher; what callers hand over meanwhile
 * waits and goes together in the next one. A fleet's alert paths commit their deliveries one cluster at a time;
 * batching their hand-offs turns 160 queue calls (160 ledger transactions on the direct queue) into a handful,
 * and keeps the connections the hand-off holds at one batch's worth (control-pool.ts counts on that).
 */
import type { DeliveryMessage } from '../alerts/index.ts';
import type { Unpublished } from './ledger.ts';

/** Publishes a batch; resolves to what the queue did not take (or undefined when it took everything). */
export type PublishBatch = (messages: readonly DeliveryMessage[]) => Promise<Unpublished | undefined>;

/**
 * Wraps `publishBatch` so concurrent callers share batches (a batch starts on the next microtask, so hand-offs of
 * the same tick go together too). Each caller learns only about its own messages:
 * `undefined` when all of them were taken, else the part of the batch's `Unpublished` that is theirs.
 *
 * @example const hand = createDispatchBatcher((batch) => publishRecorded(db, queue, batch, clock)); await hand(messages);
 */
export function createDispatchBatcher(
  publishBatch: PublishBatch,
): (messages: readonly DeliveryMessage[]) => Promise<Unpublished | undefined> {
  let next: { messages: DeliveryMessage[]; result: Promise<Unpublished | undefined> } | undefined;
  let previous: Promise<unknown> = Promise.resolve();
  return async (messages) => {
    if (messages.length === 0) return undefined;
    let batch = next;
    if (!batch) {
      const created: { messages: DeliveryMessage[]; result: Promise<Unpublished | undefined> } = {
        messages: [],
        result: Promise.resolve(undefined),
      };
      // It starts once the batch in flight settles; from then on, new callers open the batch after it.
      created.result = previous.then(() => {
        if (next === created) next = undefined;
        return publishBatch(created.messages);
      });
      previous = created.result.catch(() => undefined);
      next = created;
      batch = created;
    }
    batch.messages.push(...messages);
    const unpublished = await batch.result;
    if (!unpublished) return undefined;
    const mine = new Set(messages.map((message) => message.deliveryId));
    const failed = unpublished.failed.filter((id) => mine.has(id));
    if (failed.length === 0) return undefined;
    // `returned` is counted per batch by the ledger; a caller's share of it is at most its own failures.
    return { failed, returned: Math.min(unpublished.returned, failed.length), error: unpublished.error };
  };
}
