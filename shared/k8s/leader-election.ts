/**
 * The leader elector's factory. Its parts: `leader-election-settings.ts` (options checked, defaults),
 * `leader-election-lease.ts` (the pure Lease record logic), `leader-election-api.ts` (the Kubernetes calls),
 * `leader-election-loop.ts` (attempts, timers, step-down, release); this file only wires them.
 */
import { silentLogger } from '../log/index.ts';
import { createLeaseApi } from './leader-election-api.ts';
import { createElectionLoop } from './leader-election-loop.ts';
import { resolveElectorSettings } from './leader-election-settings.ts';
import type { LeaderElector, LeaderElectorOptions } from './leader-election-types.ts';

export type { LeaderElector, LeaderElectorOptions } from './leader-election-types.ts';

/**
 * Leader election over a coordination.k8s.io/v1 Lease with the semantics of client-go's `leaderelection`
 * (the JavaScript client has no helper):
 *
 * - A candidate takes the Lease when it is missing (create; a 409 means another candidate won), released
 *   (empty holderIdentity), already ours, or expired. Expiry is judged like client-go: by *this* candidate's
 *   clock, `leaseDurationSeconds` after it last saw the Lease change (its resourceVersion), never by comparing
 *   the holder's `renewTime` with the local clock, so clock skew between pods cannot steal a live lease.
 * - Writes are `replace` guarded by `resourceVersion` (a 409 means another candidate wrote first: lost the race).
 *   A takeover increments `leaseTransitions` and sets `acquireTime`; every write sets `renewTime`. Both are
 *   MicroTime (six fractional digits, which the API server requires).
 * - The leader renews every `retryPeriodMs`. When no renewal has succeeded for `renewDeadlineMs`, or it sees
 *   another holder on the Lease, it steps down: `onStoppedLeading` runs before anything else, so the VIP is
 *   dropped before another candidate can take over (that needs `leaseDurationMs` > `renewDeadlineMs`).
 * - `stop()` gives leadership up and releases the Lease (holderIdentity cleared, leaseDurationSeconds 1, as
 *   client-go's ReleaseOnCancel) so another candidate takes over at its next attempt.
 *
 * @example
 * const elector = createLeaderElector({ kubeConfig, name: 'pgwarden-proxy', namespace: 'db', identity: os.hostname(),
 *   onStartedLeading: () => vip.add(), onStoppedLeading: () => vip.remove() });
 * elector.start();
 * process.on('SIGTERM', () => elector.stop());
 */
export function createLeaderElector(options: LeaderElectorOptions): LeaderElector {
  const settings = resolveElectorSettings(options);
  const { name, namespace, identity } = settings;
  const logger = (options.logger ?? silentLogger).child({ lease: `${namespace}/${name}`, identity });
  const api = createLeaseApi(options.kubeConfig, name, namespace);
  return createElectionLoop(settings, api, logger, options);
}
