/**
 * The data-plane worker threads as the control plane sees them: starting one and knowing when it listens (or
 * why it never will), and stopping them all, ending any that do not exit in time.
 */
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../log/index.ts';
import { ProxyListenError } from './errors.ts';
import { type FromWorker, spawnProxyWorker, type ToWorker, type WorkerSetup } from './worker.ts';

/** A data-plane worker thread as the control plane sees it. */
export interface WorkerHandle {
  readonly thread: Worker;
  /** Resolves when the thread has exited. */
  readonly exited: Promise<void>;
}

/** What a worker thread's messages and failures lead to on the main thread. */
export interface WorkerHooks {
  readonly logger: Logger;
  /** The proxy is running or draining (a worker thread that exits then is worth an error). */
  readonly serving: () => boolean;
  /** The worker failed to reach node `index`: its health check should look now. */
  readonly recheck: (index: number) => void;
  /** The worker's last client left. */
  readonly idle: () => void;
}

/**
 * Spawns the worker of `setup.slot`; `listening` resolves once it listens and rejects with ProxyListenError when
 * it fails or exits first.
 *
 * @example
 * const { handle, listening } = startWorkerThread(setup, { logger, serving, recheck, idle });
 * await listening;
 */
export function startWorkerThread(setup: WorkerSetup, hooks: WorkerHooks): { handle: WorkerHandle; listening: Promise<void> } {
  const { slot } = setup;
  const thread = spawnProxyWorker(setup);
  const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
  const listening = new Promise<void>((resolve, reject) => {
    const failed = (message: string) => reject(new ProxyListenError(`data-plane worker ${slot}: ${message}`, setup.ports.rw));
    thread.on('error', (error) => {
      hooks.logger.error('data-plane worker failed', { worker: slot, error });
      failed(error.message);
    });
    thread.once('exit', (code) => {
      if (hooks.serving()) {
        hooks.logger.error('data-plane worker exited; restart the proxy to serve on every thread again', { worker: slot, code });
      }
      failed(`exited with code ${code} before it listened`);
    });
    thread.on('message', (message: FromWorker) => {
      if (message.type === 'ready') resolve();
      else if (message.type === 'failed') failed(message.message);
      else if (message.type === 'recheck') hooks.recheck(message.node);
      else if (message.type === 'idle') hooks.idle();
    });
  });
  return { handle: { thread, exited }, listening };
}

/** Sends `message` to every worker (messages to one worker arrive in order). */
export function broadcastToWorkers(workers: readonly WorkerHandle[], message: ToWorker): void {
  for (const worker of workers) worker.thread.postMessage(message);
}

/** Asks every worker to close its listeners and clients; ends a worker that has not exited within a second. */
export async function stopWorkerThreads(workers: readonly WorkerHandle[]): Promise<void> {
  broadcastToWorkers(workers, { type: 'stop' });
  await Promise.all(
    workers.map(async (worker) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => resolve(void worker.thread.terminate()), 1000);
      });
      await Promise.race([worker.exited, late]);
      clearTimeout(timer);
    }),
  );
}
