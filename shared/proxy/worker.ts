/**
 * A data-plane worker thread of the proxy (`workers` above 1): its own listeners on the shared ports, its own
 * splices, the shared counters; routing and closing orders come from the main thread's control plane.
 *
 * The thread runs this very file: unbundled, `shared/proxy/worker.ts`; in the esbuild bundle, the bundle itself
 * (every module is in it), which is why the entry of a bundle that can start the proxy checks `isMainThread`.
 */
import { isMainThread, type MessagePort, parentPort, Worker, workerData } from 'node:worker_threads';
import { attachCounters, type CounterBuffers } from './counters.ts';
import { createDataPlane, type PlaneNode, type Routes } from './data-plane.ts';
import type { ListenerName } from './metrics.ts';
import type { DataPath } from './splice.ts';

/** Marks `workerData` meant for this module, so loading the bundle in a thread starts a worker and nothing else. */
const WORKER_MARK = 'pgwarden-proxy-worker';

export interface WorkerSetup {
  readonly slot: number;
  readonly nodes: readonly PlaneNode[];
  readonly counters: CounterBuffers;
  readonly maxClients: number;
  readonly connectTimeout: number;
  readonly dataPath: DataPath;
  readonly routes: Routes;
  readonly listenHost: string;
  /** The ports the main thread bound (with SO_REUSEPORT); the worker binds the same. */
  readonly ports: { readonly rw: number; readonly ro: number };
}

/** Main thread → worker. */
export type ToWorker =
  | { readonly type: 'routes'; readonly routes: Routes }
  | { readonly type: 'close'; readonly node: number; readonly scope: ListenerName | 'all' }
  | { readonly type: 'drain' }
  | { readonly type: 'stop' };

/** Worker → main thread. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'recheck'; readonly node: number }
  | { readonly type: 'idle' }
  | { readonly type: 'stopped' };

/** Starts a data-plane worker thread on this module. */
export function spawnProxyWorker(setup: WorkerSetup): Worker {
  return new Worker(new URL(import.meta.url), { workerData: { [WORKER_MARK]: setup } });
}

function runWorker(setup: WorkerSetup, port: MessagePort): void {
  const post = (message: FromWorker) => port.postMessage(message);
  let stopping = false;
  const plane = createDataPlane({
    nodes: setup.nodes,
    slot: setup.slot,
    counters: attachCounters(setup.counters),
    maxClients: setup.maxClients,
    connectTimeout: setup.connectTimeout,
    dataPath: setup.dataPath,
    routes: setup.routes,
    onBackendFailed: (node) => post({ type: 'recheck', node }),
    onIdle: () => {
      if (!stopping) post({ type: 'idle' });
    },
  });
  port.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'routes':
        plane.setRoutes(message.routes);
        break;
      case 'close':
        plane.closeNode(message.node, message.scope);
        break;
      case 'drain':
        plane.stopAccepting();
        if (plane.open() === 0) post({ type: 'idle' });
        break;
      case 'stop':
        stopping = true;
        plane.stopAccepting();
        plane.closeAll();
        post({ type: 'stopped' });
        port.close();
        break;
    }
  });
  plane.listen(setup.listenHost, setup.ports, true).then(
    () => post({ type: 'ready' }),
    (error: unknown) => {
      post({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
      port.close();
    },
  );
}

const setup = isMainThread ? undefined : (workerData as Record<string, WorkerSetup> | null)?.[WORKER_MARK];
if (setup && parentPort) runWorker(setup, parentPort);
