/**
 * The leader elector's loop: one attempt at a time (queued), the timer between attempts (the leader every retry
 * period, others with jitter), stepping down before anything else, and the release on stop.
 */
import type { V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../log/index.ts';
import { statusOf } from './api.ts';
import { K8sOptionsError } from './errors.ts';
import type { LeaseApi } from './leader-election-api.ts';
import {
  canRenewBlind,
  decideOnLease,
  heldSpec,
  holderOf,
  type ObservedLease,
  observeLease,
  renewDeadlinePassed,
} from './leader-election-lease.ts';
import { type ElectorSettings, JITTER_FACTOR } from './leader-election-settings.ts';
import type { LeaderElector, LeaderElectorOptions } from './leader-election-types.ts';

type Callbacks = Pick<LeaderElectorOptions, 'onStartedLeading' | 'onStoppedLeading'>;

interface ElectionState {
  leading: boolean;
  stopped: boolean;
  observed: ObservedLease | undefined;
  /** Local time of the start of the last successful acquire or renew. */
  lastRenewAt: number;
}

/** What one acquire-or-renew needs besides the clock. */
interface AttemptContext {
  readonly settings: ElectorSettings;
  readonly api: LeaseApi;
  readonly logger: Logger;
  readonly state: ElectionState;
  stepDown(reason: string, fields?: Record<string, unknown>): Promise<void>;
}

/** The loop of one candidate over the Lease behind `api`. */
export function createElectionLoop(settings: ElectorSettings, api: LeaseApi, logger: Logger, callbacks: Callbacks): LeaderElector {
  const { retryPeriodMs, renewDeadlineMs, identity } = settings;
  const state: ElectionState = { leading: false, stopped: false, observed: undefined, lastRenewAt: 0 };
  let timer: NodeJS.Timeout | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  const runCallback = async (which: keyof Callbacks) => {
    try {
      await callbacks[which]();
    } catch (error) {
      logger.error(`${which} failed`, { error });
    }
  };

  const stepDown = async (reason: string, fields: Record<string, unknown> = {}) => {
    if (!state.leading) return;
    state.leading = false;
    logger.warn('leadership lost', { reason, ...fields });
    await runCallback('onStoppedLeading');
  };
  const context: AttemptContext = { settings, api, logger, state, stepDown };

  const attempt = async (): Promise<boolean> => {
    if (state.stopped) return state.leading;
    const at = settings.now();
    if (renewDeadlinePassed(state.leading, state.lastRenewAt, at, renewDeadlineMs)) {
      await stepDown('renew deadline passed', { sinceRenewMs: at - state.lastRenewAt });
      return false;
    }
    const wasLeading = state.leading;
    const held = await tryAcquireOrRenew(context, at);
    if (state.stopped) return state.leading;
    if (held) {
      state.lastRenewAt = at;
      if (!wasLeading) {
        state.leading = true;
        logger.info('leadership acquired', { leaseTransitions: state.observed?.lease.spec?.leaseTransitions });
        await runCallback('onStartedLeading');
      }
      return state.leading;
    }
    if (renewDeadlinePassed(state.leading, state.lastRenewAt, settings.now(), renewDeadlineMs)) {
      await stepDown('renew deadline passed', { sinceRenewMs: settings.now() - state.lastRenewAt });
    }
    return state.leading;
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
          if (!state.stopped) scheduleAttempt(state.leading ? retryPeriodMs : retryPeriodMs * (1 + settings.random() * JITTER_FACTOR));
        });
    }, delay);
    timer.unref();
  };

  return {
    start() {
      if (state.stopped) throw new K8sOptionsError('start', 'this elector was stopped; create a new one');
      if (timer) return;
      scheduleAttempt(0);
    },
    async stop() {
      if (state.stopped) return;
      state.stopped = true;
      if (timer) clearTimeout(timer);
      await queue;
      // An attempt that was in flight may have won the Lease without becoming leader: release that too.
      const holding = state.leading || holderOf(state.observed?.lease) === identity;
      await stepDown('stopping');
      if (holding) await api.release(identity, settings.now, settings.requestTimeoutMs, logger);
    },
    isLeader: () => state.leading,
    leader: () => holderOf(state.observed?.lease) || undefined,
    runOnce,
  };
}

/** The timeout of the next request: while leading, no request may outlive the renew deadline. */
function requestTimeout({ settings, state }: AttemptContext): number {
  const untilDeadline = state.leading ? state.lastRenewAt + settings.renewDeadlineMs - settings.now() : settings.requestTimeoutMs;
  return Math.max(1, Math.min(settings.requestTimeoutMs, untilDeadline));
}

/** client-go's tryAcquireOrRenew: true when this candidate holds the Lease afterwards. */
async function tryAcquireOrRenew(context: AttemptContext, at: number): Promise<boolean> {
  const { settings, api, logger, state } = context;
  const { identity, leaseDurationSeconds } = settings;
  const remember = (lease: V1Lease) => {
    state.observed = observeLease(state.observed, lease, at);
  };
  // Fast path: the leader renews the Lease it last wrote, without reading it first.
  if (state.observed && canRenewBlind(state.observed, identity, state.leading)) {
    const { lease } = state.observed;
    try {
      remember(
        await api.replace({ ...lease, spec: heldSpec(identity, leaseDurationSeconds, at, lease.spec, false) }, requestTimeout(context)),
      );
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
    lease = await api.read(requestTimeout(context));
  } catch (error) {
    if (statusOf(error) !== 404) {
      logger.warn('cannot read the lease', { error });
      return false;
    }
    try {
      remember(await api.create(heldSpec(identity, leaseDurationSeconds, at, undefined, true), requestTimeout(context)));
      return true;
    } catch (createError) {
      // 409 AlreadyExists: another candidate created it first.
      if (statusOf(createError) !== 409) logger.warn('cannot create the lease', { error: createError });
      return false;
    }
  }
  remember(lease);

  const decision = decideOnLease(state.observed as ObservedLease, at, identity, state.leading, leaseDurationSeconds);
  if (decision.kind === 'step_down') {
    await context.stepDown('another candidate holds the lease', { holder: decision.holder });
    return false;
  }
  if (decision.kind === 'wait') return false;
  if (decision.expiredHolder !== undefined) logger.info('lease expired; taking it over', { previousHolder: decision.expiredHolder });

  try {
    remember(
      await api.replace(
        { ...lease, spec: heldSpec(identity, leaseDurationSeconds, at, lease.spec, decision.takeover) },
        requestTimeout(context),
      ),
    );
    return true;
  } catch (error) {
    // 409: another candidate wrote between our read and write. Lost the race this time.
    if (statusOf(error) !== 409) logger.warn('cannot write the lease', { error });
    return false;
  }
}
