import type { Cluster } from '../db/types.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import { describeError } from '../redact/index.ts';
import { type LedgerRow, ledgerQuery, publishRecorded, toDeliveryMessage } from './ledger.ts';
import type { AlertQueue } from './queue.ts';
import { MAX_ATTEMPTS } from './retry-policy.ts';

/**
 * Claims due `failed` rows (`$1` now, `$2` batch size): an index scan on the partial index `deliveries_due_idx`
 * in `next_retry_at` order, locking with SKIP LOCKED. Exported for the benchmark that checks that plan.
 */
export const CLAIM_DUE_SQL = `with due as (
     select id, next_retry_at from pgwarden.deliveries
      where status = 'failed' and next_retry_at <= $1
      order by next_retry_at
      limit $2
      for update skip locked)
   update pgwarden.deliveries d
      set status = 'pending', next_retry_at = null, updated_at = $1
     from due
    where d.id = due.id
   returning d.id, d.channel, d.event, due.next_retry_at as due_at`;

/** Makes `failed` rows that used up their attempts (`$2`) dead (`$1` now); also served by the partial index. */
export const PROMOTE_EXHAUSTED_SQL = `update pgwarden.deliveries
      set status = 'dead', next_retry_at = null, updated_at = $1,
          last_error = 'gave up after ' || retry_count || ' attempts: ' || coalesce(last_error, 'no error recorded')
    where id in (
      select id from pgwarden.deliveries
       where status = 'failed' and retry_count >= $2
       for update skip locked)`;

/**
 * Re-publishes `pending` rows untouched since `$1` (`$3` now, `$2` batch size): a message lost between the ledger
 * and the sender (a crash after the insert, a record dead-lettered while the ledger was unreachable) would otherwise
 * leave its row pending forever. A copy of a message still queued is harmless: the sender acknowledges a `sent` row.
 */
export const CLAIM_STALE_PENDING_SQL = `with stale as (
     select id from pgwarden.deliveries
      where status = 'pending' and updated_at <= $1
      order by updated_at
      limit $2
      for update skip locked)
   update pgwarden.deliveries d
      set updated_at = $3
     from stale
    where d.id = stale.id
   returning d.id, d.channel, d.event`;

export interface SweepOptions {
  db: Cluster;
  queue: AlertQueue;
  logger?: Logger;
  clock?: () => Date;
  /** Most rows taken in one sweep. Default 100. */
  batchSize?: number;
  /** A `pending` row untouched this long is published again. Default 15 minutes. */
  stalePendingMs?: number;
}

export interface SweepResult {
  /** Due `failed` rows taken by this sweep. */
  due: number;
  /** Of those, published to the queue again. */
  published: number;
  /** Rows the queue refused: back to `failed`, due now, for the next sweep. */
  unpublished: number;
  /** `failed` rows that had used up their attempts and were made `dead`. */
  promotedDead: number;
  /** Of `due`, rows found `pending` for longer than `stalePendingMs` (their message was lost). */
  stalePending: number;
}

/**
 * Re-publishes due `failed` deliveries: oldest `next_retry_at` first, at most `batchSize`, taken with
 * `FOR UPDATE SKIP LOCKED` and marked `pending` in one transaction, so two sweeps running at once never publish
 * a row twice (the second skips the rows the first holds, and finds them `pending` once it commits). Publishing
 * happens after the commit (the direct queue sends through the ledger, which needs those rows unlocked); rows the
 * queue refuses go back to `failed`. `failed` rows that have used up their attempts (left by an older policy or by
 * hand) are made `dead`. With room left in the batch, `pending` rows untouched for `stalePendingMs` are published
 * again too: their message was lost, and a duplicate is harmless (the sender acknowledges a `sent` row).
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

  const { claimed, promotedDead, stalePending } = await options.db.runTx(async (tx) => {
    const promoted = await ledgerQuery(tx, PROMOTE_EXHAUSTED_SQL, [now, MAX_ATTEMPTS]);
    const due = await ledgerQuery<Pick<LedgerRow, 'id' | 'channel' | 'event'> & { due_at: Date }>(tx, CLAIM_DUE_SQL, [now, batchSize]);
    const room = batchSize - due.rows.length;
    const stale =
      room > 0
        ? (
            await ledgerQuery<Pick<LedgerRow, 'id' | 'channel' | 'event'>>(tx, CLAIM_STALE_PENDING_SQL, [
              new Date(now.getTime() - stalePendingMs),
              room,
              now,
            ])
          ).rows
        : [];
    return {
      claimed: [...due.rows.sort((a, b) => a.due_at.getTime() - b.due_at.getTime()), ...stale],
      promotedDead: promoted.rowCount ?? 0,
      stalePending: stale.length,
    };
  });

  const result: SweepResult = { due: claimed.length, published: claimed.length, unpublished: 0, promotedDead, stalePending };
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
