/** The data plane's connect deadlines (and first-packet waits): one timer for them all. */

/** A pending wait with the plane's connect timeout. */
export interface ConnectDeadline {
  /** Connected, failed or the client left: the deadline no longer matters. */
  done: boolean;
  expire(): void;
}

/**
 * Backend connect timeouts on one timer: every connect gets the same timeout, so deadlines expire in the order
 * they were added and only the oldest pending one needs a timer. A `setTimeout`/`clearTimeout` per new client
 * (a timer-list insert and removal each) showed in the `pgbench -C` profile; this is an array push.
 */
export function createDeadlineQueue(timeoutMs: number): { add(deadline: ConnectDeadline): void } {
  let queue: Array<{ at: number; deadline: ConnectDeadline }> = [];
  let head = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    while (head < queue.length && (queue[head] as { deadline: ConnectDeadline }).deadline.done) head++;
    if (head === queue.length) {
      queue = [];
      head = 0;
      timer = undefined;
      return;
    }
    if (head > 1024) {
      queue = queue.slice(head);
      head = 0;
    }
    const next = queue[head] as { at: number };
    // Unref'd: the pending connects keep the process alive, not their deadline.
    timer = setTimeout(expire, Math.max(0, next.at - performance.now())).unref();
  };
  const expire = () => {
    const now = performance.now();
    while (head < queue.length) {
      const entry = queue[head] as { at: number; deadline: ConnectDeadline };
      if (!entry.deadline.done && entry.at > now) break;
      head++;
      if (!entry.deadline.done) {
        entry.deadline.done = true;
        entry.deadline.expire();
      }
    }
    arm();
  };
  return {
    add(deadline) {
      queue.push({ at: performance.now() + timeoutMs, deadline });
      if (timer === undefined) arm();
    },
  };
}
