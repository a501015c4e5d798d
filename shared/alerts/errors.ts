/** Errors of the alert path. What the lifecycle decides (fire, hold, …) is a value, never one of these. */
import type { AlertEvent } from './event.ts';

export class AlertError extends Error {
  override name = 'AlertError';
}

/**
 * The publisher failed for events the lifecycle let through. `phase` says what that means for them:
 * `record` / `publish` — nothing was recorded or saved (the transaction rolled back), so the next check decides
 * and sends them again; `dispatch` — they and the new state are committed in the ledger, only the hand-off to
 * the queue failed, and the sweeper publishes them again.
 */
export class AlertPublishError extends AlertError {
  override name = 'AlertPublishError';
  readonly phase: 'record' | 'publish' | 'dispatch';
  readonly events: readonly AlertEvent[];
  constructor(phase: AlertPublishError['phase'], events: readonly AlertEvent[], options: { cause: unknown }) {
    super(`publishing ${events.length} alert${events.length === 1 ? '' : 's'} failed (${phase})`, options);
    this.phase = phase;
    this.events = events;
  }
}

/**
 * The alert state could not be read or saved (`cause`: the control database's error). `sent` lists the events a
 * publisher without a ledger had already sent in line before the failure (the next check may repeat them once);
 * empty when nothing went out.
 */
export class AlertStateError extends AlertError {
  override name = 'AlertStateError';
  readonly sent: readonly AlertEvent[];
  constructor(sent: readonly AlertEvent[], options: { cause: unknown }) {
    super(sent.length > 0 ? 'alert state not saved after sending' : 'alert state unavailable', options);
    this.sent = sent;
  }
}

/** For callers that keep the errors they had before the alert path wrapped them: throws the wrapped cause. */
export function rethrowCause(error: unknown): never {
  throw error instanceof AlertPublishError || error instanceof AlertStateError ? error.cause : error;
}
