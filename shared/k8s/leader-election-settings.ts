/** The leader elector's options checked (as client-go's NewLeaderElector checks them) and given their defaults. */
import { K8sOptionsError } from './errors.ts';
import type { LeaderElectorOptions } from './leader-election-types.ts';

// client-go's leaderelection.JitterFactor: a candidate waits retryPeriod × (1 + random × 1.2) between attempts.
export const JITTER_FACTOR = 1.2;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** The checked options with their defaults, and the clock as milliseconds. */
export interface ElectorSettings {
  readonly name: string;
  readonly namespace: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  /** What the Lease records: `leaseDurationMs` in whole seconds, at least 1. */
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly requestTimeoutMs: number;
  /** Local time in ms. */
  now(): number;
  readonly random: () => number;
}

/** Throws K8sOptionsError naming the first option client-go would refuse. */
export function resolveElectorSettings(options: LeaderElectorOptions): ElectorSettings {
  const leaseDurationMs = options.leaseDurationMs ?? 15_000;
  const renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
  const retryPeriodMs = options.retryPeriodMs ?? 2_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? renewDeadlineMs / 2;
  const clock = options.clock ?? (() => new Date());
  const { name, namespace, identity } = options;

  if (!DNS_SUBDOMAIN.test(name))
    throw new K8sOptionsError('name', `must be a DNS subdomain (lowercase letters, digits, '-', '.'), got ${JSON.stringify(name)}`);
  if (!DNS_SUBDOMAIN.test(namespace)) throw new K8sOptionsError('namespace', `must be a DNS label, got ${JSON.stringify(namespace)}`);
  if (identity.trim() === '') throw new K8sOptionsError('identity', 'must not be empty (use the pod name)');
  for (const [option, value] of [
    ['leaseDurationMs', leaseDurationMs],
    ['renewDeadlineMs', renewDeadlineMs],
    ['retryPeriodMs', retryPeriodMs],
    ['requestTimeoutMs', requestTimeoutMs],
  ] as const) {
    if (!(Number.isFinite(value) && value > 0))
      throw new K8sOptionsError(option, `must be a positive number of milliseconds, got ${String(value)}`);
  }
  if (leaseDurationMs <= renewDeadlineMs) {
    throw new K8sOptionsError(
      'leaseDurationMs',
      `must be greater than renewDeadlineMs (${leaseDurationMs} ≤ ${renewDeadlineMs}): the leader must give up before others may take over`,
    );
  }
  if (renewDeadlineMs <= JITTER_FACTOR * retryPeriodMs) {
    throw new K8sOptionsError(
      'renewDeadlineMs',
      `must be greater than ${JITTER_FACTOR} × retryPeriodMs (${renewDeadlineMs} ≤ ${JITTER_FACTOR * retryPeriodMs})`,
    );
  }
  return {
    name,
    namespace,
    identity,
    leaseDurationMs,
    leaseDurationSeconds: Math.max(1, Math.ceil(leaseDurationMs / 1000)),
    renewDeadlineMs,
    retryPeriodMs,
    requestTimeoutMs,
    now: () => clock().getTime(),
    random: options.random ?? Math.random,
  };
}
