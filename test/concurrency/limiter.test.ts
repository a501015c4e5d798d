import { describe, expect, it } from 'vitest';
import { createLimiter, mapWithConcurrency } from '../../shared/concurrency/index.ts';

/** A promise the test settles by hand, so "in flight" is a fact of the test, not of the clock. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('the concurrency limiter', () => {
  it('runs at most max functions at once and starts the waiting ones in call order as slots free', async () => {
    const limit = createLimiter(2);
    const gates = [0, 1, 2, 3].map(() => deferred<number>());
    const started: number[] = [];
    const results = gates.map((gate, i) =>
      limit(() => {
        started.push(i);
        return gate.promise;
      }),
    );
    await expect.poll(() => started).toEqual([0, 1]);
    gates[1]!.resolve(1);
    await expect.poll(() => started).toEqual([0, 1, 2]);
    gates[0]!.resolve(0);
    await expect.poll(() => started).toEqual([0, 1, 2, 3]);
    gates[2]!.resolve(2);
    gates[3]!.resolve(3);
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3]);
  });

  it('maps in input order, and rethrows the first failure only after every other item has run', async () => {
    const seen: number[] = [];
    const mapped = await mapWithConcurrency([3, 1, 2], 2, async (n, i) => {
      seen.push(n);
      return `${i}:${n * 10}`;
    });
    expect(mapped).toEqual(['0:30', '1:10', '2:20']);
    expect(seen.sort()).toEqual([1, 2, 3]);

    const ran: number[] = [];
    const failing = mapWithConcurrency([1, 2, 3, 4], 2, async (n) => {
      ran.push(n);
      if (n === 1) throw new Error('item 1 failed');
      return n;
    });
    await expect(failing).rejects.toThrow('item 1 failed');
    expect(ran.sort()).toEqual([1, 2, 3, 4]);
  });
});
