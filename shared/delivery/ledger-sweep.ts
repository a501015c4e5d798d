/**
 * SQL the sweeper runs over `pgwarden.deliveries`. The statements are exported for the benchmark that checks their
 * plans; the sweeper calls the named functions.
 */
import { type LedgerRow, ledgerQuery, type Queryable } from './ledger.ts';

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
   returning d.id, d.channel, d.event, d.status, d.retry_count, due.next_retry_at as due_at`;

/**
 * Makes `failed` rows that used up their attempts (`$2`) dead (`$1` now), returning them so `delivery_dead` can be
 * raised; also served by the partial index.
 */
export const PROMOTE_EXHAUSTED_SQL = `update pgwarden.deliveries
      set status = 'dead', next_retry_at = null, updated_at = $1,
          last_error = 'gave up after ' || retry_count || ' attempts: ' || coalesce(last_error, 'no error recorded')
    where id in (
      select id from pgwarden.deliveries
       where status = 'failed' and retry_count >= $2
       for update skip locked)
   returning id, channel, event, last_error`;

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
   returning d.id, d.channel, d.event, d.status, d.retry_count`;

/** A row taken by the sweeper to publish again (locked until the sweep's transaction ends). */
export type ClaimedDelivery = Pick<LedgerRow, 'id' | 'channel' | 'event' | 'status' | 'retry_count'>;

/** Due `failed` rows made `pending` (at most `limit`), oldest due first. */
export async function claimDue(tx: Queryable, now: Date, limit: number): Promise<ClaimedDelivery[]> {
  const { rows } = await ledgerQuery<ClaimedDelivery & { due_at: Date }>(tx, CLAIM_DUE_SQL, [now, limit]);
  return rows.sort((a, b) => a.due_at.getTime() - b.due_at.getTime()).map(({ due_at: _, ...row }) => row);
}

/** `pending` rows untouched since `before` (at most `limit`), touched now so the next sweep leaves them. */
export async function claimStalePending(tx: Queryable, before: Date, limit: number, now: Date): Promise<ClaimedDelivery[]> {
  return (await ledgerQuery<ClaimedDelivery>(tx, CLAIM_STALE_PENDING_SQL, [before, limit, now])).rows;
}

/** `failed` rows with `maxAttempts` or more attempts, made `dead` now; returned with their new `last_error`. */
export async function promoteExhausted(
  tx: Queryable,
  maxAttempts: number,
  now: Date,
): Promise<Array<Pick<LedgerRow, 'id' | 'channel' | 'event'> & { last_error: string }>> {
  return (
    await ledgerQuery<Pick<LedgerRow, 'id' | 'channel' | 'event'> & { last_error: string }>(tx, PROMOTE_EXHAUSTED_SQL, [now, maxAttempts])
  ).rows;
}
