/**
 * The cluster client's retry rule on top of `withRetry`: retryable failures (and, in discovery mode, a write
 * refused as read-only, which means the roles changed) are retried with full-jitter backoff, never after close.
 */
import { describeError } from '../redact/index.ts';
import { isReadOnlyError, isRetryable, pgErrorCode } from './errors.ts';
import type { ClusterContext } from './node-handle.ts';
import { withRetry } from './retry.ts';
import type { ClusterOptions } from './types.ts';

/** Runs `operation` with retries; `beforeRetry` runs after a failure that will be retried, before the backoff. */
export type ClusterRetry = <T>(operation: (attempt: number) => Promise<T>, beforeRetry?: (error: unknown) => Promise<void>) => Promise<T>;

/** The retry of one cluster client, with `options.retry`'s limits (`false`: one attempt). */
export function createClusterRetry(context: ClusterContext, options: ClusterOptions): ClusterRetry {
  const retry = options.retry === false ? { attempts: 1 } : (options.retry ?? {});
  const retryable = (error: unknown) => !context.isClosed() && (isRetryable(error) || (context.discovery && isReadOnlyError(error)));
  return (operation, beforeRetry) =>
    withRetry(operation, {
      attempts: retry.attempts,
      baseDelayMs: retry.baseDelayMs,
      maxDelayMs: retry.maxDelayMs,
      random: options.random ?? Math.random,
      isRetryable: retryable,
      async onRetry({ attempt, delayMs, error }) {
        await beforeRetry?.(error);
        context.logger.debug('retrying', { attempt, delayMs, code: pgErrorCode(error), error: describeError(error) });
      },
    });
}
