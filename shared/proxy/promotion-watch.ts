/**
 * The fast promotion check: the full health checks run every `checkInterval` (1 s by default), too slow to stop
 * writes landing on an old primary after an out-of-band `pg_promote()`. Every `promotionCheckInterval` (100 ms by
 * default) each replica is asked `pg_is_in_recovery()` on its kept monitoring connection; the first `false`
 * triggers a full re-check of every node, so the router (and the fencing of the old primary's clients) acts on it.
 */
import type { NodeMonitor } from './health.ts';

/** The timers the watch needs (the proxy's clock satisfies it). */
export interface WatchClock {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface WatchedNode {
  readonly name: string;
  readonly monitor: Pick<NodeMonitor, 'checkRecovery'>;
}

export interface PromotionWatchOptions {
  readonly intervalMs: number;
  readonly clock: WatchClock;
  /** The nodes to watch at this tick: those the last full check saw up and in recovery. */
  readonly replicas: () => readonly WatchedNode[];
  /** A replica answered `pg_is_in_recovery() = false`. */
  readonly onPromotion: (node: WatchedNode) => void;
  /** The check on a replica failed: its full check should look now. */
  readonly onFailure: (node: WatchedNode) => void;
}

export interface PromotionWatch {
  start(): void;
  stop(): void;
}

/**
 * Creates the watch (nothing runs until `start()`). A replica whose check is still in flight is skipped at the
 * next tick, so a hung node costs one outstanding query, never a pile of them, and never delays the others.
 *
 * @example
 * const watch = createPromotionWatch({ intervalMs: 100, clock, replicas, onPromotion: () => recheckAll(), onFailure: recheck });
 * watch.start();
 */
export function createPromotionWatch(options: PromotionWatchOptions): PromotionWatch {
  const inFlight = new Set<string>();
  let timer: unknown;
  let running = false;

  const checkOne = async (node: WatchedNode) => {
    inFlight.add(node.name);
    try {
      const recovery = await node.monitor.checkRecovery();
      if (!running) return;
      if (recovery === false) options.onPromotion(node);
      else if (recovery === null) options.onFailure(node);
    } finally {
      inFlight.delete(node.name);
    }
  };

  const tick = () => {
    if (!running) return;
    for (const node of options.replicas()) if (!inFlight.has(node.name)) void checkOne(node);
    timer = options.clock.setTimeout(tick, options.intervalMs);
  };

  return {
    start() {
      if (running) return;
      running = true;
      timer = options.clock.setTimeout(tick, options.intervalMs);
    },
    stop() {
      running = false;
      options.clock.clearTimeout(timer);
    },
  };
}
