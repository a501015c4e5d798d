/** The promotion watch's scheduling on an injected clock: what it asks, when, and what it reports. */
import { describe, expect, it } from 'vitest';
import { createPromotionWatch, type WatchedNode } from '../../shared/proxy/promotion-watch.ts';

/** A clock whose timers run only when `tick()` is called. */
function manualClock() {
  let pending: Array<{ callback: () => void; handle: number }> = [];
  let next = 0;
  return {
    setTimeout: (callback: () => void) => {
      const handle = ++next;
      pending.push({ callback, handle });
      return handle;
    },
    clearTimeout: (handle: unknown) => {
      pending = pending.filter((t) => t.handle !== handle);
    },
    tick() {
      const due = pending;
      pending = [];
      for (const timer of due) timer.callback();
    },
    get timers() {
      return pending.length;
    },
  };
}

/** A replica whose answers are queued by the test; an unanswered check stays in flight. */
function replica(name: string) {
  const waiting: Array<(recovery: boolean | null) => void> = [];
  let asked = 0;
  const node: WatchedNode = {
    name,
    monitor: {
      checkRecovery: () => {
        asked++;
        return new Promise((resolve) => waiting.push(resolve));
      },
    },
  };
  return {
    node,
    get asked() {
      return asked;
    },
    answer: async (recovery: boolean | null) => {
      waiting.shift()?.(recovery);
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

describe('createPromotionWatch', () => {
  it('reports a promotion and a failure, and never piles checks on a replica that has not answered', async () => {
    const clock = manualClock();
    const a = replica('pg-1');
    const b = replica('pg-2');
    const promoted: string[] = [];
    const failed: string[] = [];
    const watch = createPromotionWatch({
      intervalMs: 100,
      clock,
      replicas: () => [a.node, b.node],
      onPromotion: (node) => promoted.push(node.name),
      onFailure: (node) => failed.push(node.name),
    });
    watch.start();
    clock.tick();
    expect([a.asked, b.asked]).toEqual([1, 1]);

    await a.answer(true);
    clock.tick();
    // pg-2 is still in flight (a hung node): asked once, while pg-1 is asked again.
    expect([a.asked, b.asked]).toEqual([2, 1]);

    await a.answer(false);
    await b.answer(null);
    expect(promoted).toEqual(['pg-1']);
    expect(failed).toEqual(['pg-2']);

    watch.stop();
    expect(clock.timers).toBe(0);
  });

  it('reports nothing that arrives after stop()', async () => {
    const clock = manualClock();
    const a = replica('pg-1');
    const promoted: string[] = [];
    const watch = createPromotionWatch({
      intervalMs: 100,
      clock,
      replicas: () => [a.node],
      onPromotion: (node) => promoted.push(node.name),
      onFailure: () => {},
    });
    watch.start();
    clock.tick();
    watch.stop();
    await a.answer(false);
    expect(promoted).toEqual([]);
  });
});
