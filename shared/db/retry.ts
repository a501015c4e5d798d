import { isRetryable as defaultIsRetryable, RetryExhaustedError } from './errors.ts';

export interface RetryPolicy {
  /** Total attempts including the first. Default 3. */
  attempts?: number;
  /** Backoff ceiling of the first retry. Default 50 ms. */
  baseDelayMs?: number;
  /** Largest backoff ceiling. Default 2 s. */
  maxDelayMs?: number;
  isRetryable?: (error: unknown) => boolean;
  /** Uniform random in [0, 1); injected by tests. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Called before each retry, with the error that caused it. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void | Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * "Full jitter" backoff (AWS Architecture Blog, "Exponential Backoff And Jitter"): the n-th retry sleeps a
 * uniform time in [0, min(max, base·2^(n−1))], which spreads a herd of clients better than equal jitter.
 */
export function backoffDelay(retry: number, baseDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Runs `fn` until it succeeds, a non-retryable error is thrown (rethrown as is), or attempts run out
 * (`RetryExhaustedError` with the last error as `cause`).
 *
 * @example await withRetry(() => client.query('select 1'), { attempts: 5 })
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy = {}): Promise<T> {
  const attempts = Math.max(1, policy.attempts ?? 3);
  const base = policy.baseDelayMs ?? 50;
  const max = policy.maxDelayMs ?? 2000;
  const retryable = policy.isRetryable ?? defaultIsRetryable;
  const sleep = policy.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (!retryable(error)) throw error;
      if (attempt >= attempts) throw new RetryExhaustedError(attempt, error);
      const delayMs = backoffDelay(attempt, base, max, policy.random);
      await policy.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs);
    }
  }
}
