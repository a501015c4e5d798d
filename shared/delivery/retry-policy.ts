import { redact } from '../redact/index.ts';

/** Attempts before a delivery is given up as `dead` (the 5th failure kills it). */
export const MAX_ATTEMPTS = 5;
const MINUTE_MS = 60_000;
const MAX_BACKOFF_MS = 60 * MINUTE_MS;
/** `last_error` is for people reading `pgwarden deliveries`; a response body can be long. */
const MAX_ERROR_LENGTH = 500;

/**
 * The wait after the n-th failure (n = 1, 2, …): `min(2^(n−1) minutes, 1 hour)`, so 1, 2, 4, 8 minutes….
 *
 * @example retryDelayMs(1) // 60_000
 */
export function retryDelayMs(failures: number): number {
  if (!Number.isInteger(failures) || failures < 1) {
    throw new RangeError(`retryDelayMs: failures must be a whole number ≥ 1, got ${failures}`);
  }
  // 2^(n−1) overflows nothing here: past n = 7 the hour cap applies anyway.
  return Math.min(2 ** Math.min(failures - 1, 30) * MINUTE_MS, MAX_BACKOFF_MS);
}

/** What a notifier reported about a failed send, as the policy needs it. */
export interface FailureReport {
  /** `retry`: 5xx, timeout, network, 429. `permanent`: any other 4xx (bad URL, revoked webhook). */
  kind: 'retry' | 'permanent';
  error: string;
  status?: number;
  /** From a 429's `Retry-After`: the next attempt must not come sooner. */
  retryAfterMs?: number;
}

/** The ledger columns a failure sets. */
export type FailurePlan =
  | { status: 'failed'; retryCount: number; nextRetryAt: Date; lastError: string }
  | { status: 'dead'; retryCount: number; nextRetryAt: null; lastError: string };

/**
 * Decides a row's next state after a failed attempt. `previousFailures` is the row's `retry_count` before this
 * attempt. Retryable failures are scheduled `retryDelayMs(n)` later (or at `Retry-After`, whichever is later)
 * until the {@link MAX_ATTEMPTS}th, which makes the row `dead`; a permanent failure is `dead` at once.
 * `lastError` is redacted and bounded.
 *
 * @example planFailure(0, { kind: 'retry', error: 'HTTP 503' }, now) // failed, retryCount 1, now + 1 min
 */
export function planFailure(previousFailures: number, failure: FailureReport, now: Date): FailurePlan {
  const retryCount = previousFailures + 1;
  const reason = describeFailure(failure);
  if (failure.kind === 'permanent') {
    return { status: 'dead', retryCount, nextRetryAt: null, lastError: bound(`permanent failure: ${reason}`) };
  }
  if (retryCount >= MAX_ATTEMPTS) {
    return { status: 'dead', retryCount, nextRetryAt: null, lastError: bound(`gave up after ${retryCount} attempts: ${reason}`) };
  }
  const waitMs = Math.max(retryDelayMs(retryCount), failure.retryAfterMs ?? 0);
  return { status: 'failed', retryCount, nextRetryAt: new Date(now.getTime() + waitMs), lastError: bound(reason) };
}

function describeFailure(failure: FailureReport): string {
  const status = failure.status !== undefined && !failure.error.includes(String(failure.status)) ? `HTTP ${failure.status}: ` : '';
  const retryAfter = failure.retryAfterMs !== undefined ? ` (Retry-After ${Math.ceil(failure.retryAfterMs / 1000)}s)` : '';
  return redact(`${status}${failure.error}${retryAfter}`);
}

function bound(text: string): string {
  return text.length <= MAX_ERROR_LENGTH ? text : `${text.slice(0, MAX_ERROR_LENGTH - 1)}…`;
}
