/**
 * The alert path of one check: the lifecycle decides, the publisher records what it lets through in the same
 * transaction as the new state, and the queue gets it after COMMIT (issue 13, issue 14 item 4). No connection is
 * ever awaited while the lifecycle's own is held, so the path holds whatever the size of the fleet and the pool.
 */

import { AlertPublishError, AlertStateError } from './errors.ts';
import type { AlertEvent } from './event.ts';
import type { AlertPublisher, RecordedAlerts } from './publisher.ts';
import type { AlertDecision, AlertStateStore, ApplyLifecycleInput } from './state.ts';

export interface LifecyclePublished {
  decisions: AlertDecision[];
  /** The notifications the lifecycle let through: recorded with the state (or already sent in line). */
  events: AlertEvent[];
  /**
   * Hands the recorded deliveries to the queue (nothing to do when they were sent in line). Call it once, after
   * `applyAndPublish` resolved; callers with many clusters call it for each without waiting in between, so the
   * publisher can batch the hand-offs. Rejects with `AlertPublishError` (phase `dispatch`).
   */
  dispatch(): Promise<void>;
}

/**
 * Runs `input` through `store` and publishes what it decides. With a store that passes its transaction and a
 * publisher that can `record`, the deliveries are inserted on the lifecycle's connection and handed to the queue
 * by `dispatch()` after COMMIT: the state and its deliveries are saved together or not at all. If the process dies between COMMIT and
 * dispatch, the ledger rows stay `pending` and the sweeper publishes them again once they have been untouched for
 * its `stalePendingMs` (15 minutes by default; shared/delivery/sweeper.ts, CLAIM_STALE_PENDING_SQL), so the alert
 * is late, never lost; a dispatch that fails outright returns its rows to `failed`, due at once, for the next sweep.
 * Otherwise (the in-memory store, a publisher with no ledger) the events are published in line, inside the lock.
 *
 * Throws `AlertPublishError` when the publisher failed (its `phase` says whether anything was saved) and
 * `AlertStateError` when the store did (its `sent` says whether anything went out first).
 *
 * @example
 * const { events, dispatch } = await applyAndPublish(createAlertStateStore(stateDb), { lockKey: 'orders', observations, timing }, publisher);
 * await dispatch();
 */
export async function applyAndPublish(
  store: AlertStateStore,
  input: ApplyLifecycleInput,
  publisher: AlertPublisher,
): Promise<LifecyclePublished> {
  let events: AlertEvent[] = [];
  let recorded: RecordedAlerts | undefined;
  let sentInLine = false;
  let decisions: AlertDecision[];
  try {
    decisions = await store.apply(input, async (batch, tx) => {
      events = batch;
      const phase = tx && publisher.record ? 'record' : 'publish';
      try {
        if (tx && publisher.record) recorded = await publisher.record(tx, batch);
        else await publisher.publish(batch);
      } catch (cause) {
        throw new AlertPublishError(phase, batch, { cause });
      }
      sentInLine = phase === 'publish';
    });
  } catch (error) {
    if (error instanceof AlertPublishError) throw error;
    // Recorded deliveries rolled back with the state: nothing went out, unless it was sent in line.
    throw new AlertStateError(sentInLine ? events : [], { cause: error });
  }
  const committed = recorded;
  const dispatch = async () => {
    if (!committed) return;
    try {
      await committed.dispatch();
    } catch (cause) {
      throw new AlertPublishError('dispatch', events, { cause });
    }
  };
  return { decisions, events, dispatch };
}
