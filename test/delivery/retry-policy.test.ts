import { describe, expect, it } from 'vitest';
import { MAX_ATTEMPTS, planFailure, retryDelayMs } from '../../shared/delivery/index.ts';

const now = new Date('2026-03-01T12:00:00.000Z');
const at = (ms: number) => new Date(now.getTime() + ms);
const MINUTE = 60_000;

describe('retry policy', () => {
  it('waits min(2^(n−1) minutes, 1 hour) after the n-th failure', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 40].map(retryDelayMs)).toEqual([1, 2, 4, 8, 16, 32, 60, 60, 60].map((m) => m * MINUTE));
    expect(() => retryDelayMs(0)).toThrow('retryDelayMs: failures must be a whole number ≥ 1, got 0');
  });

  it('schedules the first four failures and makes the fifth dead, clearing next_retry_at', () => {
    const failure = { kind: 'retry' as const, error: 'slack answered 500: rollup_error', status: 500 };
    expect([0, 1, 2, 3].map((previous) => planFailure(previous, failure, now))).toEqual([
      { status: 'failed', retryCount: 1, nextRetryAt: at(1 * MINUTE), lastError: 'slack answered 500: rollup_error' },
      { status: 'failed', retryCount: 2, nextRetryAt: at(2 * MINUTE), lastError: 'slack answered 500: rollup_error' },
      { status: 'failed', retryCount: 3, nextRetryAt: at(4 * MINUTE), lastError: 'slack answered 500: rollup_error' },
      { status: 'failed', retryCount: 4, nextRetryAt: at(8 * MINUTE), lastError: 'slack answered 500: rollup_error' },
    ]);
    expect(planFailure(MAX_ATTEMPTS - 1, failure, now)).toEqual({
      status: 'dead',
      retryCount: 5,
      nextRetryAt: null,
      lastError: 'gave up after 5 attempts: slack answered 500: rollup_error',
    });
  });

  it('never retries before Retry-After, and a permanent failure is dead at once', () => {
    expect(planFailure(0, { kind: 'retry', error: 'rate_limited', status: 429, retryAfterMs: 90_000 }, now)).toMatchObject({
      nextRetryAt: at(90_000),
      lastError: 'HTTP 429: rate_limited (Retry-After 90s)',
    });
    expect(planFailure(3, { kind: 'retry', error: 'rate_limited', status: 429, retryAfterMs: 1000 }, now).nextRetryAt).toEqual(
      at(8 * MINUTE),
    );
    expect(planFailure(0, { kind: 'permanent', error: 'slack answered 404: no_service', status: 404 }, now)).toEqual({
      status: 'dead',
      retryCount: 1,
      nextRetryAt: null,
      lastError: 'permanent failure: slack answered 404: no_service',
    });
  });

  it('keeps last_error short and free of URL passwords', () => {
    const plan = planFailure(0, { kind: 'retry', error: `connect https://bot:pa55word@loki.example.com failed ${'x'.repeat(900)}` }, now);
    expect(plan.lastError).not.toContain('pa55word');
    expect(plan.lastError.length).toBeLessThanOrEqual(500);
  });
});
