/**
 * The Lease record logic of leader election, pure: what a candidate makes of the Lease it observed at a given
 * local time, and the specs it writes. No API calls, no timers; the clock is an argument.
 */
import { type V1Lease, type V1LeaseSpec, V1MicroTime } from '@kubernetes/client-node';

/** The last Lease read or written, and when (local clock, ms) its resourceVersion was first seen. */
export interface ObservedLease {
  readonly lease: V1Lease;
  readonly at: number;
}

/** The holder a Lease names; '' when it has none (released or never held). */
export function holderOf(lease: V1Lease | undefined): string {
  return lease?.spec?.holderIdentity ?? '';
}

/**
 * Records `lease` as seen at `at`. The time moves only when its resourceVersion changed: expiry is judged like
 * client-go, by this candidate's clock since it last saw the Lease change, never by the holder's `renewTime`.
 */
export function observeLease(previous: ObservedLease | undefined, lease: V1Lease, at: number): ObservedLease {
  const changed = !previous || previous.lease.metadata?.resourceVersion !== lease.metadata?.resourceVersion;
  return { lease, at: changed || !previous ? at : previous.at };
}

/** What to do with a Lease just read. */
export type LeaseDecision =
  /** Write it as ours: it is free, ours, or expired (`expiredHolder` names whom we take it from). */
  | { kind: 'write'; takeover: boolean; expiredHolder?: string }
  /** We lead, yet another candidate holds it: step down. */
  | { kind: 'step_down'; holder: string }
  /** Another candidate holds a live Lease: wait. */
  | { kind: 'wait' };

/**
 * client-go's tryAcquireOrRenew decision, for the Lease `observed` (just read) at local time `at`.
 * `defaultDurationSeconds` counts when the Lease does not say its own duration.
 */
export function decideOnLease(
  observed: ObservedLease,
  at: number,
  identity: string,
  leading: boolean,
  defaultDurationSeconds: number,
): LeaseDecision {
  const { lease } = observed;
  const holder = holderOf(lease);
  if (holder !== '' && holder !== identity) {
    if (leading) return { kind: 'step_down', holder };
    const durationMs = (lease.spec?.leaseDurationSeconds ?? defaultDurationSeconds) * 1000;
    if (observed.at + durationMs > at) return { kind: 'wait' };
    return { kind: 'write', takeover: true, expiredHolder: holder };
  }
  return { kind: 'write', takeover: holder !== identity };
}

/** True when the leader may renew the Lease it last wrote without reading it first. */
export function canRenewBlind(observed: ObservedLease | undefined, identity: string, leading: boolean): boolean {
  return leading && observed !== undefined && holderOf(observed.lease) === identity;
}

/** True when the leader has gone `renewDeadlineMs` without a successful renewal and must step down. */
export function renewDeadlinePassed(leading: boolean, lastRenewAt: number, at: number, renewDeadlineMs: number): boolean {
  return leading && at - lastRenewAt >= renewDeadlineMs;
}

/**
 * The spec `identity` writes at `at`: a takeover increments `leaseTransitions` and sets `acquireTime`; every
 * write sets `renewTime`. Both are MicroTime (six fractional digits, which the API server requires).
 */
export function heldSpec(
  identity: string,
  leaseDurationSeconds: number,
  at: number,
  previous: V1LeaseSpec | undefined,
  takeover: boolean,
): V1LeaseSpec {
  return {
    ...previous,
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: takeover || !previous?.acquireTime ? new V1MicroTime(at) : new V1MicroTime(new Date(previous.acquireTime).getTime()),
    renewTime: new V1MicroTime(at),
    leaseTransitions: takeover ? (previous?.leaseTransitions ?? -1) + 1 : (previous?.leaseTransitions ?? 0),
  };
}

/** The spec of a released Lease (client-go's ReleaseOnCancel): no holder, a one-second duration. */
export function releasedSpec(previous: V1LeaseSpec | undefined, at: number): V1LeaseSpec {
  return { ...previous, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: new V1MicroTime(at), renewTime: new V1MicroTime(at) };
}
