/**
 * Where a new client goes: the routes the control plane set (read-write to the primary, read-only by least
 * connections over the replicas), and a CancelRequest to the node that issued its key.
 */
import { cancelKey } from './backend-key.ts';
import type { ProxyCounters } from './counters.ts';
import type { ListenerName } from './metrics-types.ts';
import type { RefusalReason } from './wire.ts';

/** Where new clients go, decided by the control plane. */
export interface Routes {
  /** Index of the read-write target, or null (then `rwRefusal` says why). */
  readonly primary: number | null;
  readonly rwRefusal: RefusalReason;
  /** Indexes of the read-only candidates (least connections among them; the primary when empty). */
  readonly replicas: readonly number[];
}

/**
 * Least connections with a round-robin tie-break: the candidate with the fewest active connections; among equals,
 * the first at or after `cursor` (the caller advances it), so an idle pool still spreads evenly.
 */
export function pickLeastConnections<T>(candidates: readonly T[], active: (candidate: T) => number, cursor: number): T | null {
  const count = candidates.length;
  if (count === 0) return null;
  let best: T | null = null;
  let bestActive = Number.POSITIVE_INFINITY;
  for (let i = 0; i < count; i++) {
    const candidate = candidates[(cursor + i) % count] as T;
    const n = active(candidate);
    if (n < bestActive) {
      best = candidate;
      bestActive = n;
    }
  }
  return best;
}

/** A plane's routes and its choice of node for each new client. */
export interface TargetChooser {
  setRoutes(routes: Routes): void;
  /**
   * Where a first packet goes: a CancelRequest to the node that issued its key (dropped, as PostgreSQL drops an
   * unknown key, unless encrypted sessions may own it: backend-key.ts), anything else by the listener's rule.
   */
  targetOf(listener: ListenerName, head: Buffer, cancel: boolean): number | RefusalReason | 'drop';
}

/** Creates the chooser of one plane, starting from `routes`; `counters` give the open connections and the keys. */
export function createTargetChooser(counters: ProxyCounters, routes: Routes): TargetChooser {
  let rrCursor = 0;
  const openTotal = (node: number) => counters.open(node, 'rw') + counters.open(node, 'ro');

  const targetFor = (listener: ListenerName): number | RefusalReason => {
    if (listener === 'rw') return routes.primary ?? routes.rwRefusal;
    const node = pickLeastConnections(routes.replicas, openTotal, rrCursor++);
    if (node !== null) return node;
    return routes.primary ?? 'no_target';
  };

  return {
    setRoutes(next) {
      routes = next;
    },
    targetOf(listener, head, cancel) {
      if (!cancel) return targetFor(listener);
      const { pid, keyHash } = cancelKey(head);
      const node = counters.keys.lookup(pid, keyHash);
      if (node >= 0) return node;
      if (counters.keys.encrypted() === 0) return 'drop';
      const fallback = targetFor(listener);
      return typeof fallback === 'number' ? fallback : 'drop';
    },
  };
}
