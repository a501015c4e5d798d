/**
 * SQL that records send attempts: the ledger row's new state and one `pgwarden.delivery_attempts` row per attempt
 * (its time, outcome, error, HTTP status), written in one transaction so history and row never disagree.
 */
import { type LedgerRow, ledgerQuery, type Queryable } from './ledger.ts';

/** What one attempt came to. `rate_limited` is a retryable failure the service asked us to slow down for (429). */
export const ATTEMPT_OUTCOMES = ['sent', 'failed', 'rate_limited', 'dead'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** One attempt to record. `error` is already redacted and bounded (the retry policy's `lastError`). */
export interface AttemptRecord {
  deliveryId: string;
  outcome: AttemptOutcome;
  error: string | null;
  httpStatus: number | null;
}

/** One attempt as an operator reads it (`pgwarden deliveries --id N`). */
export interface DeliveryAttempt {
  /** 1, 2, … over the delivery's whole life: a requeue starts a fresh retry budget, not a fresh history. */
  attempt: number;
  /** ISO 8601. */
  at: string;
  outcome: AttemptOutcome;
  error: string | null;
  httpStatus: number | null;
}

/**
 * Appends one attempt per record, numbered after the delivery's last one. Call it inside the transaction that
 * holds the deliveries' rows locked (`lockDeliveries`), which is what keeps two writers from taking one number.
 */
export async function insertAttempts(db: Queryable, attempts: readonly AttemptRecord[], at: Date): Promise<void> {
  if (attempts.length === 0) return;
  await ledgerQuery(
    db,
    `insert into pgwarden.delivery_attempts (delivery_id, attempt, at, outcome, error, http_status)
     select u.id,
            coalesce((select max(a.attempt) from pgwarden.delivery_attempts a where a.delivery_id = u.id), 0) + 1,
            $5, u.outcome, u.error, u.http_status
       from unnest($1::uuid[], $2::text[], $3::text[], $4::int[]) as u(id, outcome, error, http_status)`,
    [
      attempts.map((attempt) => attempt.deliveryId),
      attempts.map((attempt) => attempt.outcome),
      attempts.map((attempt) => attempt.error),
      attempts.map((attempt) => attempt.httpStatus),
      at,
    ],
  );
}

/** The state one attempt leaves its ledger row in, and the attempt itself. */
export interface AttemptUpdate extends AttemptRecord {
  status: LedgerRow['status'];
  retryCount: number;
  nextRetryAt: Date | null;
  lastError: string | null;
  sentAt: Date | null;
}

/**
 * Records attempts: each row's status, retry count, next retry, `last_error` and `sent_at` in one update, and the
 * attempts in the history. Call it in the transaction that locked the rows (`lockDeliveries`).
 */
export async function recordAttempts(tx: Queryable, updates: readonly AttemptUpdate[], now: Date): Promise<void> {
  if (updates.length === 0) return;
  await ledgerQuery(
    tx,
    `update pgwarden.deliveries d
        set status = u.status, retry_count = u.retry_count, next_retry_at = u.next_retry_at, last_error = u.last_error,
            sent_at = coalesce(u.sent_at, d.sent_at), updated_at = $7
       from unnest($1::uuid[], $2::text[], $3::int[], $4::timestamptz[], $5::text[], $6::timestamptz[])
         as u(id, status, retry_count, next_retry_at, last_error, sent_at)
      where d.id = u.id`,
    [
      updates.map((u) => u.deliveryId),
      updates.map((u) => u.status),
      updates.map((u) => u.retryCount),
      updates.map((u) => u.nextRetryAt),
      updates.map((u) => u.lastError),
      updates.map((u) => u.sentAt),
      now,
    ],
  );
  await insertAttempts(tx, updates, now);
}

/** Every attempt of one delivery, oldest first. */
export async function listAttempts(db: Queryable, deliveryId: string): Promise<DeliveryAttempt[]> {
  const { rows } = await ledgerQuery<{
    attempt: number;
    at: Date;
    outcome: AttemptOutcome;
    error: string | null;
    http_status: number | null;
  }>(
    db,
    `select attempt, at, outcome, error, http_status from pgwarden.delivery_attempts
      where delivery_id = $1 order by attempt`,
    [deliveryId],
  );
  return rows.map((row) => ({
    attempt: row.attempt,
    at: row.at.toISOString(),
    outcome: row.outcome,
    error: row.error,
    httpStatus: row.http_status,
  }));
}
