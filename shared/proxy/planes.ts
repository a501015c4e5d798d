/**
 * The proxy's data planes and their lifecycle: which path moves the bytes (the native addon's threads, or the
 * JavaScript plane on this thread plus one per worker thread), how many threads share the ports, binding and
 * starting them, handing them routes and closes, draining them and stopping them.
 */
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import type { ProxySettings } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import { attachCounters, createCounterBuffers, type ProxyCounters } from './counters.ts';
import { createDataPlane, type DataPlane, type PlaneNode, type Routes } from './data-plane.ts';
import { ProxyOptionsError } from './errors.ts';
import type { ListenerName } from './metrics-types.ts';
import { createNativeDataPlane, type NativeAddon, nativeSplice } from './native.ts';
import type { WatchClock } from './promotion-watch.ts';
import { type DataPath, defaultDataPath } from './splice.ts';
import type { ProxyDataPath } from './types.ts';
import type { RefusalReason } from './wire.ts';
import type { ToWorker } from './worker.ts';
import { broadcastToWorkers, startWorkerThread, stopWorkerThreads, type WorkerHandle } from './worker-threads.ts';

/** Platforms where several sockets may bind one port with SO_REUSEPORT (Node's `reusePort`). */
const REUSE_PORT_PLATFORMS: ReadonlySet<string> = new Set(['linux', 'freebsd']);

/**
 * Data-plane threads for `workers`: a number as given; `auto` one per CPU this process may run on (HAProxy's
 * `nbthread` default), or one where the platform cannot share a port between threads.
 *
 * @throws ProxyOptionsError for more than one thread where the platform cannot share a port.
 */
export function dataThreads(workers: ProxySettings['workers']): number {
  const shareable = REUSE_PORT_PLATFORMS.has(process.platform);
  if (workers === 'auto') return shareable ? availableParallelism() : 1;
  if (workers > 1 && !shareable) {
    throw new ProxyOptionsError(
      `workers: ${workers} data-plane threads share the ports with SO_REUSEPORT, which ${process.platform} lacks; use 1`,
    );
  }
  return workers;
}

const SETTING_PATHS: Record<ProxySettings['dataPath'], ProxyDataPath | undefined> = {
  auto: undefined,
  native: 'native',
  javascript: defaultDataPath,
};

/** The data path chosen; `why` says what kept the default off native. */
type ChosenDataPath = { path: 'native'; addon: NativeAddon } | { path: DataPath; why?: string };

/**
 * The data path to run: the one asked for, else native where the addon loads and every node is an IP address
 * (the addon connects without DNS), else the JavaScript path the runtime supports best.
 */
function chooseDataPath(asked: ProxyDataPath | undefined, nodes: ReadonlyArray<{ host: string }>): ChosenDataPath {
  if (asked !== undefined && asked !== 'native') return { path: asked };
  const loaded = nativeSplice();
  const named = nodes.find((n) => isIP(n.host) === 0);
  const why = 'error' in loaded ? loaded.error : named ? `node host ${named.host} is a name, not an IP address` : undefined;
  if (why === undefined && 'addon' in loaded) return { path: 'native', addon: loaded.addon };
  if (asked === 'native') throw new ProxyOptionsError(`dataPath: native is not available: ${why}`);
  return { path: defaultDataPath, why };
}

export interface ProxyPlanesOptions {
  readonly nodes: readonly PlaneNode[];
  /** Data-plane threads (`dataThreads(settings.workers)`). */
  readonly threads: number;
  /** The path asked for by the caller; without one, `settings.dataPath` decides. */
  readonly dataPath: ProxyDataPath | undefined;
  readonly settings: Pick<
    ProxySettings,
    'dataPath' | 'maxClients' | 'connectTimeout' | 'listenHost' | 'rwPort' | 'roPort' | 'drainTimeout'
  >;
  /** The routes in force: the planes start with them, and so does each worker thread. */
  readonly routes: () => Routes;
  readonly logger: Logger;
  readonly clock: WatchClock;
  /** A plane failed to reach node `index`: its health check should look now. */
  readonly recheck: (index: number) => void;
  /** The proxy is running or draining (a worker thread that exits then is worth an error). */
  readonly serving: () => boolean;
}

export interface ProxyPlanes {
  /** The counters every thread shares (open clients, traffic, refusals). */
  readonly counters: ProxyCounters;
  readonly dataPath: ChosenDataPath;
  /** Binds the listeners of this thread's plane (sharing the ports when several threads run). */
  listen(): Promise<{ rw: number; ro: number }>;
  /** Starts the worker threads' planes on the ports `listen()` bound; resolves once all listen. */
  startWorkers(bound: { rw: number; ro: number }): Promise<void>;
  setRoutes(routes: Routes): void;
  /** Closes a node's clients on every thread: its read-write ones, or all. */
  closeNode(index: number, scope: ListenerName | 'all'): void;
  /** Stops accepting on every thread and waits up to `drainTimeout` for the last client to leave. */
  drain(): Promise<void>;
  /** Stops accepting, closes every client, ends the native threads and the worker threads. */
  stop(): Promise<void>;
}

/**
 * Creates the planes (nothing listens until `listen()`). The native path runs every data-plane thread inside
 * the addon; the JavaScript path runs one plane here (slot 0) and, with `threads` above 1, one per worker thread.
 *
 * @example
 * const planes = createProxyPlanes({ nodes, threads: dataThreads(settings.workers), dataPath: undefined, settings,
 *   routes: () => planner.routes(), logger, clock, recheck, serving: () => status === 'running' });
 * await planes.startWorkers(await planes.listen());
 */
export function createProxyPlanes(options: ProxyPlanesOptions): ProxyPlanes {
  const { settings, logger, threads } = options;
  const dataPath = chooseDataPath(options.dataPath ?? SETTING_PATHS[settings.dataPath], options.nodes);
  /** The JavaScript path's flavour, for the planes that run it (none on the native path). */
  const jsPath = dataPath.path === 'native' ? null : dataPath.path;
  const counters = attachCounters(createCounterBuffers(threads, options.nodes.length, settings.maxClients));
  const workers: WorkerHandle[] = [];

  /** Set while `drain()` waits for the last client. */
  let onIdle: (() => void) | undefined;
  const checkIdle = () => {
    if (onIdle && counters.clients() === 0) onIdle();
  };

  const planeOptions = {
    nodes: options.nodes,
    counters,
    maxClients: settings.maxClients,
    connectTimeout: settings.connectTimeout,
    routes: options.routes(),
    onRefused: (listener: ListenerName, reason: RefusalReason, detail?: Record<string, unknown>) =>
      logger.debug('client refused', { listener, reason, ...detail }),
    onBackendFailed: options.recheck,
    onIdle: checkIdle,
  };
  const plane: DataPlane =
    dataPath.path === 'native'
      ? createNativeDataPlane(dataPath.addon, { ...planeOptions, threads }, counters)
      : createDataPlane({ ...planeOptions, slot: 0, dataPath: dataPath.path });
  const workerThreads = jsPath ? threads : 1;

  const broadcast = (message: ToWorker) => broadcastToWorkers(workers, message);
  const workerHooks = { logger, serving: options.serving, recheck: options.recheck, idle: checkIdle };

  return {
    counters,
    dataPath,
    listen: () => plane.listen(settings.listenHost, { rw: settings.rwPort, ro: settings.roPort }, workerThreads > 1),
    async startWorkers(bound) {
      const starting: Array<Promise<void>> = [];
      for (let slot = 1; slot < workerThreads; slot++) {
        const { handle, listening } = startWorkerThread(
          {
            slot,
            nodes: options.nodes,
            counters: counters.buffers,
            maxClients: settings.maxClients,
            connectTimeout: settings.connectTimeout,
            dataPath: jsPath ?? defaultDataPath,
            routes: options.routes(),
            listenHost: settings.listenHost,
            ports: bound,
          },
          workerHooks,
        );
        workers.push(handle);
        starting.push(listening);
      }
      await Promise.all(starting);
    },
    setRoutes(routes) {
      plane.setRoutes(routes);
      broadcast({ type: 'routes', routes });
    },
    closeNode(index, scope) {
      plane.closeNode(index, scope);
      broadcast({ type: 'close', node: index, scope });
    },
    async drain() {
      plane.stopAccepting();
      broadcast({ type: 'drain' });
      logger.info('draining: not accepting new clients', { clients: counters.clients(), timeoutMs: settings.drainTimeout });
      if (counters.clients() === 0) return;
      await new Promise<void>((resolve) => {
        const timer = options.clock.setTimeout(() => {
          logger.warn('drain timeout: closing the remaining clients', { clients: counters.clients() });
          resolve();
        }, settings.drainTimeout);
        onIdle = () => {
          options.clock.clearTimeout(timer);
          resolve();
        };
      });
    },
    async stop() {
      plane.stopAccepting();
      plane.closeAll();
      plane.stop();
      await stopWorkerThreads(workers);
    },
  };
}
