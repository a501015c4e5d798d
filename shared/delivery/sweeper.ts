import { CHANNELS, type Channel } from '../alerts/index.ts';
import type { Cluster } from '../db/types.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import { describeError } from '../redact/index.ts';
import { noSenderFailure, planAttempt } from './attempt-plan.ts';
import { publishRecorded, type Queryable, toDeliveryMessage } from './ledger.ts';
import { recordAttempts } from './ledger-attempts.ts';
import { type ClaimedDelivery, claimDue, claimStalePending, promoteExhausted } from './ledger-sweep.ts';
import type { AlertQueue } from './queue.ts';
import { raiseDeliveryDead } from './raise-dead.ts';
import { MAX_ATTEMPTS } from './retry-policy.ts';

export { CLAIM_DUE_SQL, CLAIM_STALE_PENDING_SQL, PROMOTE_EXHAUSTED_SQL } from './ledger-sweep.ts';

export interface SweepOptions {
  db: Cluster;
  queue: AlertQueue;
  logger?: Logger;
  clock?: () => Date;
  /** Most rows taken in one sweep. Default 100. */
  batchSize?: number;
  /** A `pending` row untouched this long is published again. Default 15 minutes. */
  stalePendingMs?: number;
  /**
   * The channels alerts are delivered to (config `channels`, or the configured senders): a row made `dead` here
   * raises `delivery_dead` on the others. Default none (logged as such when a row dies).
   */
  channels?: readonly Channel[];
}

export interface SweepResult {
  /** Due `failed` rows taken by this sweep. */
  due: number;
  /** Of those, published to the queue again. */
  published: number;
  /** Rows the queue refused: back to `failed`, due now, for the next sweep. */
  unpublished: number;
  /** Rows made `dead` by this sweep: `failed` with their attempts used up, or an unknown channel's last attempt. */
  promotedDead: number;
  /** Of `due`, rows found `pending` for longer than `stalePendingMs` (their message was lost). */
  stalePending: number;
  /** Of `due`, rows for a channel this version does not know: their attempt was counted, nothing published. */
  noSender: number;
}

/**
 * Re-publishes due `failed` deliveries: oldest `next_retry_at` first, at most `batchSize`, taken with
 * `FOR UPDATE SKIP LOCKED` and marked `pending` in one transaction, so two sweeps running at once never publish
 * a row twice (the second skips the rows the first holds, and finds them `pending` once it commits). Publishing
 * happens after the commit (the direct queue sends through the ledger, which needs those rows unlocked); rows the
 * queue refuses go back to `failed`. `failed` rows that have used up their attempts (left by an older policy or by
 * hand) are made `dead`, and each raises `delivery_dead` on the other `channels`, as a row dying in the sender
 * does. With room left in the batch, `pending` rows untouched for `stalePendingMs` are published again too: their
 * message was lost, and a duplicate is harmless (the sender acknowledges a `sent` row).
 *
 * @example const { published } = await sweepDeliveries({ db, queue, logger });
 */
export async function sweepDeliveries(options: SweepOptions): Promise<SweepResult> {
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? (() => new Date());
  const batchSize = options.batchSize ?? 100;
  const stalePendingMs = options.stalePendingMs ?? 15 * 60_000;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`sweepDeliveries: batchSize must be a whole number ≥ 1, got ${batchSize}`);
  }
  const now = clock();

  const { claimed, promoted, noSender, stalePending } = await options.db.runTx(async (tx) => {
    const exhausted = await promoteExhausted(tx, MAX_ATTEMPTS, now);
    const due = await claimDue(tx, now, batchSize);
    const room = batchSize - due.length;
    const stale = room > 0 ? await claimStalePending(tx, new Date(now.getTime() - stalePendingMs), room, now) : [];
    const taken = [...due, ...stale];
    const unknown = taken.filter((row) => !(CHANNELS as readonly string[]).includes(row.channel));
    const died = await countNoSenderAttempts(tx, unknown, now);
    return {
      claimed: taken.filter((row) => !unknown.includes(row)),
      promoted: [...exhausted, ...died],
      noSender: unknown.length,
      stalePending: stale.length,
    };
  });

  const result: SweepResult = {
    due: claimed.length + noSender,
    published: claimed.length,
    unpublished: 0,
    promotedDead: promoted.length,
    stalePending,
    noSender,
  };
  // After the commit, like any publish: the direct queue sends through the ledger, which needs the rows unlocked.
  const raise = { db: options.db, queue: options.queue, channels: options.channels ?? [], clock };
  for (const row of promoted) {
    const log = logger.child({ deliveryId: row.id, channel: row.channel, rule: row.event.rule, cluster: row.event.cluster });
    log.error('alert delivery is dead', { error: row.last_error });
    await raiseDeliveryDead(toDeliveryMessage(row), row.last_error, raise, log);
  }
  if (claimed.length > 0) {
    const unpublished = await publishRecorded(options.db, options.queue, claimed.map(toDeliveryMessage), clock);
    if (unpublished) {
      result.published = claimed.length - unpublished.failed.length;
      result.unpublished = unpublished.returned;
      logger.error('sweep could not publish some deliveries; they are due again', {
        unpublished: unpublished.failed.length,
        error: describeError(unpublished.error),
      });
    }
  }
  if (result.due > 0 || result.promotedDead > 0) logger.info('deliveries swept', { ...result });
  else logger.debug('nothing to sweep');
  return result;
}

/**
 * Records a failed attempt for rows of a channel this version does not know (written by hand or by another
 * version): no sender anywhere can take them, so publishing would only bounce them back, uncounted, forever.
 * Counted, the retry policy ends them. Returns the rows that died of it, with their `last_error`.
 */
async function countNoSenderAttempts(
  tx: Queryable,
  rows: readonly ClaimedDelivery[],
  now: Date,
): Promise<Array<ClaimedDelivery & { last_error: string }>> {
  const planned = rows.map((row) => planAttempt(row, noSenderFailure(row.channel), now).update);
  await recordAttempts(tx, planned, now);
  return rows.flatMap((row, i) => {
    const update = planned[i];
    return update?.status === 'dead' ? [{ ...row, last_error: update.lastError ?? '' }] : [];
  });
}
