/** Runs `fn` when a slot is free; what it returns (or throws) is passed through. */
export type Limiter = <T>(fn: () => Promise<T>) => Promise<T>;

/**
 * The one concurrency limiter: at most `max` functions run at once, the rest wait in call order and a finished one
 * hands its slot straight to the next in line. Share one limiter between callers to bound them together (the
 * sender bounds its sends across every chunk of a batch this way).
 *
 * @example
 * const limit = createLimiter(4);
 * const outcomes = await Promise.all(messages.map((m) => limit(() => send(m))));
 */
export function createLimiter(max: number): Limiter {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (fn) => {
    if (active < max) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const nextInLine = waiting.shift();
      if (nextInLine) nextInLine();
      else active--;
    }
  };
}

/**
 * Maps `items` through `fn` with at most `limit` calls in flight (through {@link createLimiter}); results keep the
 * order of `items`. `fn` should not throw (a check returns its failure as a value); if it does, the other items
 * still run and the first error is rethrown once every call has settled, so nothing is left running behind the
 * caller's back.
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const run = createLimiter(Math.max(1, limit));
  const settled = await Promise.allSettled(items.map((item, index) => run(() => fn(item, index))));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
}
