import { type AlertEvent, type AlertState, type AlertStateStore, decideAlerts, isSendingAction } from '../alerts/index.ts';

/**
 * The alert lifecycle kept in process memory: what `pgwarden topology --interval` uses when no control database
 * is configured, so a node that stays down is reported once (and again every repeat interval), not every probe.
 * Same decisions as the database store (`decideAlerts`); lost when the process exits.
 */
export function createMemoryAlertStateStore(options: { clock?: () => Date } = {}): AlertStateStore {
  const clock = options.clock ?? (() => new Date());
  const states = new Map<string, AlertState>();
  let queue: Promise<unknown> = Promise.resolve();
  return {
    apply(input, deliver) {
      // One check at a time, like the database store's advisory lock.
      const run = queue.then(async () => {
        const decisions = decideAlerts(input.observations, states, clock(), input.timing);
        const events = decisions.filter((d) => isSendingAction(d.action) && d.event).map((d) => d.event as AlertEvent);
        if (events.length > 0) await deliver(events);
        for (const decision of decisions) {
          if (decision.action === 'none') continue;
          if (decision.next) states.set(decision.key, decision.next);
          else states.delete(decision.key);
        }
        return decisions;
      });
      queue = run.catch(() => {});
      return run;
    },
    async list(filter = {}) {
      return [...states.values()]
        .filter((state) => filter.cluster === undefined || state.cluster === filter.cluster)
        .sort((a, b) => a.key.localeCompare(b.key));
    },
  };
}

/** For dry runs: what the store would send for these observations, without changing it. */
export async function previewAlerts(
  store: AlertStateStore,
  cluster: string,
  observations: readonly AlertEvent[],
  now: Date,
  timing: { forMs: number; repeatIntervalMs: number },
): Promise<AlertEvent[]> {
  const states = new Map((await store.list({ cluster })).map((state) => [state.key, state]));
  return decideAlerts(observations, states, now, timing)
    .filter((d) => isSendingAction(d.action) && d.event)
    .map((d) => d.event as AlertEvent);
}
