/**
 * The native data path (`native/splice.c`, a Node-API addon built by `npm install`): the same data plane as
 * data-plane.ts — admission, routing, connect with a deadline, splice — on the addon's own epoll threads, with no
 * JavaScript per event. The control plane stays in JavaScript and unchanged: routes, fencing, drain, API, metrics.
 *
 * The addon writes the very counters the JavaScript planes write (counters.ts's SharedArrayBuffers), so metrics,
 * `/topology`, the client limit and least connections read the same whatever path runs. A client it turns away
 * comes back here as a descriptor and is answered by wire.ts, as on the JavaScript path.
 *
 * Where the addon is missing (not built: no compiler, not Linux) the proxy runs the JavaScript data path;
 * `nativeSplice()` says why.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';
import type { ProxyCounters } from './counters.ts';
import type { DataPlane, DataPlaneOptions, Routes } from './data-plane.ts';
import { boundPort, listen } from './listen.ts';
import type { ListenerName } from './metrics.ts';
import { type RefusalReason, refuseClient } from './wire.ts';

/** What the addon sends back to JavaScript. */
type PlaneEvent =
  | { type: 'refuse'; fd: number; listener: ListenerName; reason: RefusalReason; node: number; errno: number }
  | { type: 'idle' };

interface NativePlane {
  setRoutes(primary: number, rwRefusal: RefusalReason, replicas: readonly number[]): void;
  /** Thread i takes over `listeners[i]` (dup'd; the caller closes its own). */
  start(listeners: ReadonlyArray<readonly [number, number]>): void;
  stopAccepting(): void;
  closeNode(node: number, scope: -1 | 0 | 1): void;
  closeAll(): void;
  stop(): void;
}

export interface NativeAddon {
  Plane: new (
    options: {
      threads: number;
      nodes: ReadonlyArray<{ host: string; port: number }>;
      maxClients: number;
      connectTimeout: number;
      open: Int32Array;
      slots: Float64Array;
      stride: number;
      /** The cancel-key table (cancel-keys.ts), read and written by the addon's threads. */
      keys: Int32Array;
    },
    onEvent: (event: PlaneEvent) => void,
  ) => NativePlane;
}

/** Where the addon may be: built in the source tree, or copied beside the proxy bundle by `npm run build`. */
const ADDON_CANDIDATES = [
  new URL('./native/build/Release/pgwarden_splice.node', import.meta.url),
  new URL('./pgwarden_splice.node', import.meta.url),
];

let loaded: { addon: NativeAddon } | { error: string } | undefined;

/** The addon, or why it cannot run here (loaded once). */
export function nativeSplice(): { addon: NativeAddon } | { error: string } {
  if (loaded) return loaded;
  if (process.platform !== 'linux') {
    loaded = { error: `the native data path uses epoll, which ${process.platform} lacks` };
    return loaded;
  }
  const file = ADDON_CANDIDATES.find((candidate) => candidate.protocol === 'file:' && existsSync(candidate));
  if (!file) {
    loaded = { error: 'the native splice addon is not built (npm install builds it with node-gyp; a C compiler is needed)' };
    return loaded;
  }
  try {
    const module = { exports: {} as NativeAddon };
    process.dlopen(module, fileURLToPath(file));
    loaded = { addon: module.exports };
  } catch (error) {
    loaded = { error: `the native splice addon did not load: ${(error as Error).message}` };
  }
  return loaded;
}

export interface NativeDataPlaneOptions extends Omit<DataPlaneOptions, 'slot' | 'dataPath'> {
  /** Epoll threads in the addon (the setting `workers`); counters slot i is thread i's. */
  readonly threads: number;
}

const SCOPES: Record<ListenerName | 'all', -1 | 0 | 1> = { all: -1, rw: 0, ro: 1 };

/** The file descriptor under a listening `net.Server` (Unix). */
function listenerFd(server: Server): number {
  const fd = (server as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the listener has no file descriptor to hand over');
  return fd;
}

/**
 * Creates the native data plane. The nodes must be IP addresses (the addon connects without DNS): the caller
 * falls back to the JavaScript path otherwise.
 */
export function createNativeDataPlane(addon: NativeAddon, options: NativeDataPlaneOptions, counters: ProxyCounters): DataPlane {
  const { nodes, connectTimeout, threads } = options;
  const { buffers } = counters;
  const onEvent = (event: PlaneEvent) => {
    if (event.type === 'idle') return options.onIdle();
    const detail: Record<string, unknown> = {};
    if (event.node >= 0) detail.node = nodes[event.node]?.name;
    if (event.errno !== 0) detail.error = getSystemErrorName(-event.errno);
    if (event.reason === 'too_many_clients') detail.max = options.maxClients;
    // The main thread's slot: the addon never writes a refusal field, so the two do not share a counter.
    counters.refused(0, event.listener, event.reason);
    options.onRefused?.(event.listener, event.reason, detail);
    const socket = new Socket({ fd: event.fd, readable: true, writable: true });
    refuseClient(socket, event.reason, connectTimeout);
    if (event.reason === 'backend_unreachable' && event.node >= 0) options.onBackendFailed(event.node);
  };
  const plane = new addon.Plane(
    {
      threads,
      nodes: nodes.map(({ host, port }) => ({ host, port })),
      maxClients: options.maxClients,
      connectTimeout,
      open: new Int32Array(buffers.open),
      slots: new Float64Array(buffers.slots),
      stride: counters.slotStride,
      keys: new Int32Array(buffers.keys),
    },
    onEvent,
  );
  const setRoutes = (routes: Routes) => plane.setRoutes(routes.primary ?? -1, routes.rwRefusal, routes.replicas);
  setRoutes(options.routes);
  let stopped = false;

  return {
    setRoutes,
    async listen(host, ports) {
      // net binds (its errors, IPv6 and port 0 as everywhere else), one pair of listeners per thread sharing the
      // ports with SO_REUSEPORT; the addon takes the sockets over before the event loop could accept on them, and
      // net lets go of its own descriptors.
      const servers: Array<Record<ListenerName, Server>> = [];
      const closeAll = () => {
        for (const pair of servers) {
          pair.rw.close();
          pair.ro.close();
        }
      };
      const bound = { ...ports };
      try {
        for (let thread = 0; thread < threads; thread++) {
          const pair = { rw: createServer(), ro: createServer() };
          servers.push(pair);
          await listen(pair.rw, bound.rw, host, 'read-write listener', threads > 1);
          bound.rw = boundPort(pair.rw);
          await listen(pair.ro, bound.ro, host, 'read-only listener', threads > 1);
          bound.ro = boundPort(pair.ro);
        }
        plane.start(servers.map((pair) => [listenerFd(pair.rw), listenerFd(pair.ro)]));
      } finally {
        closeAll();
      }
      return bound;
    },
    stopAccepting: () => plane.stopAccepting(),
    closeNode: (node, scope) => plane.closeNode(node, SCOPES[scope]),
    closeAll: () => plane.closeAll(),
    open: () => counters.clients(),
    stop() {
      if (stopped) return;
      stopped = true;
      plane.stop();
    },
  };
}
