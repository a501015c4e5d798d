import type { SendOutcome } from '../notifiers/index.ts';
import type { LockedDelivery } from './ledger.ts';
import type { AttemptOutcome, AttemptUpdate } from './ledger-attempts.ts';
import { planFailure } from './retry-policy.ts';

/** What an attempt came to, as the sender reports it: `failed` carries the next retry (ISO 8601). */
export interface AttemptResult {
  outcome: 'sent' | 'failed' | 'dead';
  error?: string;
  nextRetryAt?: string;
}

/**
 * The outcome of an attempt that no sender can make: no notifier for the channel here, or a channel this version
 * does not know. Retryable, not permanent: the sender may be configured (or its function deployed) before the
 * attempts run out; if not, the retry policy makes the row dead with this reason instead of it coming back forever.
 */
export function noSenderFailure(channel: string): SendOutcome {
  return { kind: 'retry', error: `no sender is configured for channel ${channel}` };
}

/**
 * The row state and history entry one send outcome makes (through the retry policy), and what the caller is told.
 * `rate_limited` marks a retryable 429 in the history.
 */
export function planAttempt(row: LockedDelivery, outcome: SendOutcome, now: Date): { update: AttemptUpdate; result: AttemptResult } {
  const httpStatus = outcome.status ?? null;
  if (outcome.kind === 'sent') {
    return {
      update: {
        deliveryId: row.id,
        status: 'sent',
        retryCount: row.retry_count,
        nextRetryAt: null,
        lastError: null,
        sentAt: now,
        outcome: 'sent',
        error: null,
        httpStatus,
      },
      result: { outcome: 'sent' },
    };
  }
  const retryAfterMs = outcome.kind === 'retry' ? outcome.retryAfterMs : undefined;
  const plan = planFailure(row.retry_count, { kind: outcome.kind, error: outcome.error, status: outcome.status, retryAfterMs }, now);
  const attempt: AttemptOutcome = plan.status === 'dead' ? 'dead' : httpStatus === 429 ? 'rate_limited' : 'failed';
  const update: AttemptUpdate = {
    deliveryId: row.id,
    status: plan.status,
    retryCount: plan.retryCount,
    nextRetryAt: plan.nextRetryAt,
    lastError: plan.lastError,
    sentAt: null,
    outcome: attempt,
    error: plan.lastError,
    httpStatus,
  };
  return plan.status === 'dead'
    ? { update, result: { outcome: 'dead', error: plan.lastError } }
    : { update, result: { outcome: 'failed', error: plan.lastError, nextRetryAt: plan.nextRetryAt.toISOString() } };
}
