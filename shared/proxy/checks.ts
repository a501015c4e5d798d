/**
 * The proxy's check scheduler: one full health check per node every `checkInterval`, every node at the fast
 * interval while the read-write target is in doubt, a re-check on demand (a lost monitoring connection, a failed
 * backend connect), and the fast promotion watch on replicas between full checks.
 */
import type { Logger } from '../log/index.ts';
import type { NodeHealth, NodeMonitor } from './health.ts';
import { createPromotionWatch, type WatchClock } from './promotion-watch.ts';

/** The timers and time the scheduler needs (the proxy's clock). */
export interface CheckClock extends WatchClock {
  now(): number;
}

/** A node as the scheduler sees it; it stores each check's outcome on it. */
export interface CheckedNode {
  readonly name: string;
  readonly monitor: NodeMonitor;
  health: NodeHealth | null;
  lastCheckAt: number | null;
}

export interface CheckSchedulerOptions<N extends CheckedNode> {
  readonly nodes: readonly N[];
  readonly clock: CheckClock;
  readonly checkInterval: number;
  /** The interval of every node's check while `inDoubt()`. */
  readonly fastInterval: number;
  /** The promotion watch's interval; 0 turns it off. */
  readonly promotionCheckInterval: number;
  readonly logger: Logger;
  /** Checks run only while this holds (the proxy is starting, running or draining). */
  readonly active: () => boolean;
  /** The read-write target is unknown or its last check failed. */
  readonly inDoubt: () => boolean;
  /** Called after each check has been stored on its node: the proxy replans there. */
  readonly onChecked: (node: N, health: NodeHealth) => void;
}

export interface CheckScheduler<N extends CheckedNode> {
  /** Checks a node now (or right after the check in flight), then resumes its schedule. */
  recheck(node: N): void;
  /** Checks every node once and resolves when all are done (the round before the listeners open). */
  checkAll(): Promise<void>;
  /** Starts the promotion watch. */
  startWatch(): void;
  /** Clears every timer; checks in flight finish without scheduling more. */
  stop(): void;
}

interface Schedule {
  timer: unknown;
  checking: boolean;
  /** A check was asked for while one ran: run again right after. */
  again: boolean;
}

/**
 * Creates the scheduler for the proxy's nodes.
 *
 * @example
 * const checks = createCheckScheduler({ nodes, clock, checkInterval: 1000, fastInterval: 100, promotionCheckInterval: 100,
 *   logger, active: () => running, inDoubt: () => plan.primary === null, onChecked: () => replan() });
 * await checks.checkAll();
 * checks.startWatch();
 */
export function createCheckScheduler<N extends CheckedNode>(options: CheckSchedulerOptions<N>): CheckScheduler<N> {
  const { clock, logger } = options;
  const schedules = new Map<N, Schedule>(options.nodes.map((node) => [node, { timer: undefined, checking: false, again: false }]));
  const scheduleOf = (node: N) => schedules.get(node) as Schedule;
  let fastMode = false;

  const recheck = (node: N) => {
    if (!options.active()) return;
    const schedule = scheduleOf(node);
    if (schedule.checking) {
      schedule.again = true;
      return;
    }
    clock.clearTimeout(schedule.timer);
    void runCheck(node);
  };

  const runCheck = async (node: N): Promise<void> => {
    const schedule = scheduleOf(node);
    schedule.checking = true;
    schedule.again = false;
    const health = await node.monitor.check();
    schedule.checking = false;
    if (!options.active()) return;
    const wasOk = node.health?.ok;
    node.health = health;
    node.lastCheckAt = clock.now();
    if (!health.ok && wasOk !== false) logger.warn('health check failed', { node: node.name, error: health.error });
    if (health.ok && wasOk === false) logger.info('node reachable again', { node: node.name });
    options.onChecked(node, health);
    // Entering doubt: every node's next check comes now, not at its old 1 s tick, so a promotion is seen at once.
    const delay = options.inDoubt() ? options.fastInterval : options.checkInterval;
    const fast = delay < options.checkInterval;
    if (fast && !fastMode) {
      fastMode = true;
      for (const other of options.nodes) if (other !== node) recheck(other);
    } else if (!fast) {
      fastMode = false;
    }
    if (schedule.again) {
      void runCheck(node);
      return;
    }
    schedule.timer = clock.setTimeout(() => void runCheck(node), delay);
  };

  const watch = createPromotionWatch({
    intervalMs: options.promotionCheckInterval,
    clock,
    replicas: () => options.nodes.filter((n) => n.health?.ok === true && n.health.recovery === true && !scheduleOf(n).checking),
    onPromotion: (node) => {
      logger.warn('promotion seen by the fast check: checking every node now', { node: node.name });
      for (const other of options.nodes) recheck(other);
    },
    onFailure: (node) => recheck(node as N),
  });

  return {
    recheck,
    checkAll: async () => {
      await Promise.all(options.nodes.map((node) => runCheck(node)));
    },
    startWatch() {
      if (options.promotionCheckInterval > 0) watch.start();
    },
    stop() {
      watch.stop();
      for (const schedule of schedules.values()) clock.clearTimeout(schedule.timer);
    },
  };
}
