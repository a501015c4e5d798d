import { CoordinationV1Api, type KubeConfig, type V1Lease, type V1LeaseSpec, V1MicroTime } from '@kubernetes/client-node';
import { type Logger, silentLogger } from '../log/index.ts';
import { call, requestOptions, statusOf } from './api.ts';
import { K8sConfigError } from './errors.ts';

export interface LeaderElectorOptions {
  /** From `createKubeConfig`. */
  kubeConfig: KubeConfig;
  /** The Lease's name (`--lease`). */
  name: string;
  namespace: string;
  /** This candidate's unique identity, usually the pod name. */
  identity: string;
  /** How long a non-leader waits, after it last saw the Lease change, before taking it over (default 15 s). */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it gives up leadership (default 10 s). */
  renewDeadlineMs?: number;
  /** The interval between attempts (default 2 s; candidates add client-go's jitter of up to 1.2×). */
  retryPeriodMs?: number;
  /** Abort one API request after this long (default renewDeadlineMs / 2, as kube-controller-manager does). */
  requestTimeoutMs?: number;
  clock?: () => Date;
  /** For the acquire jitter; default Math.random. */
  random?: () => number;
  logger?: Logger;
  /** Called once leadership is won (add the VIP here). Errors are logged. */
  onStartedLeading: () => void | Promise<void>;
  /** Called first thing when leadership is lost or given up (drop the VIP here), before the Lease is touched. */
  onStoppedLeading: () => void | Promise<void>;
}

export interface LeaderElector {
  /** Runs `runOnce` every retry period (timers are unref'd: they do not keep the process alive). */
  start(): void;
  /** Stops the loop; when leading, calls onStoppedLeading and then releases the Lease (holderIdentity cleared). */
  stop(): Promise<void>;
  isLeader(): boolean;
  /** The holder this candidate last saw on the Lease (undefined before the first read or when released). */
  leader(): string | undefined;
  /**
   * One acquire-or-renew attempt and the step-down check, at the injected clock's time. `start()` calls it on a
   * timer; tests call it directly with a manual clock. Resolves to whether this candidate leads afterwards.
   */
  runOnce(): Promise<boolean>;
}

// client-go's leaderelection.JitterFactor: a candidate waits retryPeriod × (1 + random × 1.2) between attempts.
const JITTER_FACTOR = 1.2;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

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
  const leaseDurationMs = options.leaseDurationMs ?? 15_000;
  const renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
  const retryPeriodMs = options.retryPeriodMs ?? 2_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? renewDeadlineMs / 2;
  const clock = options.clock ?? (() => new Date());
  const random = options.random ?? Math.random;
  const { name, namespace, identity } = options;
  const logger = (options.logger ?? silentLogger).child({ lease: `${namespace}/${name}`, identity });

  if (!DNS_SUBDOMAIN.test(name))
    throw new K8sConfigError('name', `must be a DNS subdomain (lowercase letters, digits, '-', '.'), got ${JSON.stringify(name)}`);
  if (!DNS_SUBDOMAIN.test(namespace)) throw new K8sConfigError('namespace', `must be a DNS label, got ${JSON.stringify(namespace)}`);
  if (identity.trim() === '') throw new K8sConfigError('identity', 'must not be empty (use the pod name)');
  for (const [option, value] of [
    ['leaseDurationMs', leaseDurationMs],
    ['renewDeadlineMs', renewDeadlineMs],
    ['retryPeriodMs', retryPeriodMs],
    ['requestTimeoutMs', requestTimeoutMs],
  ] as const) {
    if (!(Number.isFinite(value) && value > 0))
      throw new K8sConfigError(option, `must be a positive number of milliseconds, got ${String(value)}`);
  }
  // The same checks as client-go's NewLeaderElector.
  if (leaseDurationMs <= renewDeadlineMs) {
    throw new K8sConfigError(
      'leaseDurationMs',
      `must be greater than renewDeadlineMs (${leaseDurationMs} ≤ ${renewDeadlineMs}): the leader must give up before others may take over`,
    );
  }
  if (renewDeadlineMs <= JITTER_FACTOR * retryPeriodMs) {
    throw new K8sConfigError(
      'renewDeadlineMs',
      `must be greater than ${JITTER_FACTOR} × retryPeriodMs (${renewDeadlineMs} ≤ ${JITTER_FACTOR * retryPeriodMs})`,
    );
  }

  const api = options.kubeConfig.makeApiClient(CoordinationV1Api);
  const leaseDurationSeconds = Math.max(1, Math.ceil(leaseDurationMs / 1000));
  const what = `Lease ${namespace}/${name}`;

  let leading = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  /** The last Lease read or written, and when (local clock) its resourceVersion was first seen. */
  let observed: { lease: V1Lease; at: number } | undefined;
  /** Local time of the start of the last successful acquire or renew. */
  let lastRenewAt = 0;

  const now = () => clock().getTime();
  const holderOf = (lease: V1Lease | undefined) => lease?.spec?.holderIdentity ?? '';
  const callOptions = () => {
    // While leading, no request may outlive the renew deadline.
    const untilDeadline = leading ? lastRenewAt + renewDeadlineMs - now() : requestTimeoutMs;
    return requestOptions(Math.max(1, Math.min(requestTimeoutMs, untilDeadline)));
  };

  const observe = (lease: V1Lease, at: number) => {
    const changed = !observed || observed.lease.metadata?.resourceVersion !== lease.metadata?.resourceVersion;
    observed = { lease, at: changed || !observed ? at : observed.at };
  };

  const specFor = (at: number, previous: V1LeaseSpec | undefined, takeover: boolean): V1LeaseSpec => ({
    ...previous,
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: takeover || !previous?.acquireTime ? new V1MicroTime(at) : new V1MicroTime(new Date(previous.acquireTime).getTime()),
    renewTime: new V1MicroTime(at),
    leaseTransitions: takeover ? (previous?.leaseTransitions ?? -1) + 1 : (previous?.leaseTransitions ?? 0),
  });

  const replace = (lease: V1Lease) =>
    call(`replace ${what}`, () => api.replaceNamespacedLease({ name, namespace, body: lease }, callOptions()));

  const runCallback = async (which: 'onStartedLeading' | 'onStoppedLeading') => {
    try {
      await options[which]();
    } catch (error) {
      logger.error(`${which} failed`, { error });
    }
  };

  const stepDown = async (reason: string, fields: Record<string, unknown> = {}) => {
    if (!leading) return;
    leading = false;
    logger.warn('leadership lost', { reason, ...fields });
    await runCallback('onStoppedLeading');
  };

  /** client-go's tryAcquireOrRenew: true when this candidate holds the Lease afterwards. */
  const tryAcquireOrRenew = async (at: number): Promise<boolean> => {
    // Fast path: the leader renews the Lease it last wrote, without reading it first.
    if (leading && observed && holderOf(observed.lease) === identity) {
      try {
        const renewed = await replace({ ...observed.lease, spec: specFor(at, observed.lease.spec, false) });
        observe(renewed, at);
        return true;
      } catch (error) {
        if (statusOf(error) !== 409) {
          logger.warn('lease renewal failed', { error });
          return false;
        }
        // Someone else wrote the Lease: read it and decide below.
      }
    }

    let lease: V1Lease;
    try {
      lease = await call(`read ${what}`, () => api.readNamespacedLease({ name, namespace }, callOptions()));
    } catch (error) {
      if (statusOf(error) !== 404) {
        logger.warn('cannot read the lease', { error });
        return false;
      }
      try {
        const created = await call(`create ${what}`, () =>
          api.createNamespacedLease(
            {
              namespace,
              body: {
                apiVersion: 'coordination.k8s.io/v1',
                kind: 'Lease',
                metadata: { name, namespace },
                spec: specFor(at, undefined, true),
              },
            },
            callOptions(),
          ),
        );
        observe(created, at);
        return true;
      } catch (createError) {
        // 409 AlreadyExists: another candidate created it first.
        if (statusOf(createError) !== 409) logger.warn('cannot create the lease', { error: createError });
        return false;
      }
    }
    observe(lease, at);

    const holder = holderOf(lease);
    if (holder !== '' && holder !== identity) {
      if (leading) {
        await stepDown('another candidate holds the lease', { holder });
        return false;
      }
      const durationMs = (lease.spec?.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
      if ((observed?.at ?? at) + durationMs > at) return false;
      logger.info('lease expired; taking it over', { previousHolder: holder });
    }

    try {
      const written = await replace({ ...lease, spec: specFor(at, lease.spec, holder !== identity) });
      observe(written, at);
      return true;
    } catch (error) {
      // 409: another candidate wrote between our read and write. Lost the race this time.
      if (statusOf(error) !== 409) logger.warn('cannot write the lease', { error });
      return false;
    }
  };

  const attempt = async (): Promise<boolean> => {
    if (stopped) return leading;
    const at = now();
    if (leading && at - lastRenewAt >= renewDeadlineMs) {
      await stepDown('renew deadline passed', { sinceRenewMs: at - lastRenewAt });
      return false;
    }
    const wasLeading = leading;
    const held = await tryAcquireOrRenew(at);
    if (stopped) return leading;
    if (held) {
      lastRenewAt = at;
      if (!wasLeading) {
        leading = true;
        logger.info('leadership acquired', { leaseTransitions: observed?.lease.spec?.leaseTransitions });
        await runCallback('onStartedLeading');
      }
      return leading;
    }
    if (leading && now() - lastRenewAt >= renewDeadlineMs) {
      await stepDown('renew deadline passed', { sinceRenewMs: now() - lastRenewAt });
    }
    return leading;
  };

  const runOnce = (): Promise<boolean> => {
    const next = queue.then(attempt, attempt);
    queue = next.catch(() => undefined);
    return next;
  };

  /** Runs an attempt after `delay`, then schedules the next one: the leader every retry period, others with jitter. */
  const scheduleAttempt = (delay: number) => {
    timer = setTimeout(() => {
      runOnce()
        .catch((error: unknown) => logger.error('leader election attempt failed', { error }))
        .finally(() => {
          if (!stopped) scheduleAttempt(leading ? retryPeriodMs : retryPeriodMs * (1 + random() * JITTER_FACTOR));
        });
    }, delay);
    timer.unref();
  };

  const release = async () => {
    for (let tries = 0; tries < 2; tries++) {
      try {
        const lease = await call(`read ${what}`, () => api.readNamespacedLease({ name, namespace }, requestOptions(requestTimeoutMs)));
        if (holderOf(lease) !== identity) return;
        const at = now();
        await call(`release ${what}`, () =>
          api.replaceNamespacedLease(
            {
              name,
              namespace,
              body: {
                ...lease,
                spec: {
                  ...lease.spec,
                  holderIdentity: '',
                  leaseDurationSeconds: 1,
                  acquireTime: new V1MicroTime(at),
                  renewTime: new V1MicroTime(at),
                },
              },
            },
            requestOptions(requestTimeoutMs),
          ),
        );
        logger.info('lease released');
        return;
      } catch (error) {
        if (statusOf(error) === 409) continue;
        // The VIP is gone already; the Lease simply expires after leaseDurationMs.
        logger.warn('cannot release the lease', { error });
        return;
      }
    }
  };

  return {
    start() {
      if (stopped) throw new K8sConfigError('start', 'this elector was stopped; create a new one');
      if (timer) return;
      scheduleAttempt(0);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearTimeout(timer);
      await queue;
      // An attempt that was in flight may have won the Lease without becoming leader: release that too.
      const holding = leading || holderOf(observed?.lease) === identity;
      await stepDown('stopping');
      if (holding) await release();
    },
    isLeader: () => leading,
    leader: () => holderOf(observed?.lease) || undefined,
    runOnce,
  };
}
