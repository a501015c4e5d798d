/**
 * The data plane of one thread: the two listeners, admission of each client, the backend connect and the splice
 * (the admission in client-intake.ts, the choice of node in targets.ts, the connect and splice in client-session.ts).
 *
 * The control plane (proxy.ts: health checks, routing decisions, fencing, drain, API) runs on the main thread and
 * tells each data plane where to route (`setRoutes`) and whose clients to close (`closeNode`). With `workers`
 * above 1, the main thread's plane and one plane per worker thread listen on the same ports (SO_REUSEPORT: the
 * kernel spreads new connections over them, as HAProxy's threads share a listener) and share their counters
 * (counters.ts), so the client limit and least connections hold for the proxy as a whole.
 *
 * Kept free of the control plane's imports (pg, zod, prom-client): a worker thread loads only this, the splice
 * and the wire protocol.
 */
import { createServer, isIP, type Server, Socket } from 'node:net';
import { admitClient, type PlaneIntake } from './client-intake.ts';
import type { Connection, PlaneNode } from './client-session.ts';
import type { ProxyCounters } from './counters.ts';
import { createDeadlineQueue } from './deadlines.ts';
import { type RawLink, socketFor, takeOverConnections } from './handles.ts';
import { boundPort, listen } from './listen.ts';
import type { ListenerName } from './metrics.ts';
import type { DataPath } from './splice.ts';
import { createTargetChooser, type Routes } from './targets.ts';
import { type RefusalReason, refuseClient } from './wire.ts';

export type { PlaneNode } from './client-session.ts';
export type { Routes } from './targets.ts';
export { pickLeastConnections } from './targets.ts';

export interface DataPlaneOptions {
  readonly nodes: readonly PlaneNode[];
  /** This thread's slot in the shared counters (0: the main thread). */
  readonly slot: number;
  readonly counters: ProxyCounters;
  readonly maxClients: number;
  readonly connectTimeout: number;
  readonly dataPath: DataPath;
  readonly routes: Routes;
  /** A client was turned away (the main thread logs it at debug level). */
  readonly onRefused?: (listener: ListenerName, reason: RefusalReason, detail?: Record<string, unknown>) => void;
  /** A backend did not accept a connection: the control plane re-checks that node now. */
  readonly onBackendFailed: (node: number) => void;
  /** This plane's last client left. */
  readonly onIdle: () => void;
}

export interface DataPlane {
  setRoutes(routes: Routes): void;
  /** Binds both listeners (`reusePort` when several threads share the ports); returns the bound ports. */
  listen(host: string, ports: { rw: number; ro: number }, reusePort: boolean): Promise<{ rw: number; ro: number }>;
  /** Stops accepting; clients already routed stay. New clients still in flight are refused as shutting down. */
  stopAccepting(): void;
  /** Closes this plane's clients of a node: its read-write ones, or all. */
  closeNode(node: number, scope: ListenerName | 'all'): void;
  closeAll(): void;
  /** Clients open through this plane. */
  open(): number;
  /** Ends what the plane runs beside the event loop (the native path's threads); after `closeAll`. */
  stop(): void;
}

/** Creates a thread's data plane (nothing listens until `listen()`). */
export function createDataPlane(options: DataPlaneOptions): DataPlane {
  const { nodes, slot, counters, maxClients, connectTimeout, dataPath } = options;
  const targets = createTargetChooser(counters, options.routes);
  let accepting = true;
  const connectDeadlines = createDeadlineQueue(connectTimeout);
  /** This plane's open clients per node and listener (to close them: fencing, node drain, stop). */
  const connections = nodes.map(() => ({ rw: new Set<Connection>(), ro: new Set<Connection>() }));
  const bytes = nodes.map((_, index) => counters.bytes(slot, index));
  let openHere = 0;

  const closeConnection = (connection: Connection) => {
    connection.client.destroy();
    connection.server.destroy();
  };

  /**
   * Answers a client with the reason's error; a bare client gets a `net.Socket` for it (see `socketFor`). `head`:
   * its first packet, already read to route it.
   */
  const refuse = (
    listener: ListenerName,
    client: Socket | RawLink,
    reason: RefusalReason,
    detail?: Record<string, unknown>,
    head?: Buffer,
  ) => {
    counters.refused(slot, listener, reason);
    options.onRefused?.(listener, reason, detail);
    const socket = client instanceof Socket ? client : socketFor(client);
    refuseClient(socket, reason, connectTimeout, head);
  };
  /** Clients whose first packet is awaited: closed with the others. */
  const awaiting = new Set<() => void>();

  /** What a new client's admission and session need of this plane (client-intake.ts, client-session.ts). */
  const intake: PlaneIntake = {
    slot,
    nodes,
    counters,
    dataPath,
    connectDeadlines,
    connections,
    bytes,
    refuse,
    onBackendFailed: options.onBackendFailed,
    opened: () => {
      openHere++;
    },
    closed: () => {
      openHere--;
      if (openHere === 0) options.onIdle();
    },
    maxClients,
    accepting: () => accepting,
    awaiting,
    targets,
  };
  const onClient = (listener: ListenerName, client: Socket | RawLink) => admitClient(intake, listener, client);

  const servers: Record<ListenerName, Server> = {
    rw: createServer({ pauseOnConnect: true, noDelay: true, allowHalfOpen: true }, (socket) => onClient('rw', socket)),
    ro: createServer({ pauseOnConnect: true, noDelay: true, allowHalfOpen: true }, (socket) => onClient('ro', socket)),
  };

  const closeSet = (set: Set<Connection>) => {
    for (const connection of [...set]) closeConnection(connection);
  };

  return {
    setRoutes: targets.setRoutes,
    async listen(host, ports, reusePort) {
      await listen(servers.rw, ports.rw, host, 'read-write listener', reusePort);
      try {
        await listen(servers.ro, ports.ro, host, 'read-only listener', reusePort);
      } catch (error) {
        servers.rw.close();
        throw error;
      }
      // Accepted clients as bare handles (see takeOverConnections); a node given by name needs net.connect's
      // Sockets on both ends, so then net keeps building client Sockets.
      if (dataPath === 'handles' && nodes.every((n) => isIP(n.host) !== 0)) {
        takeOverConnections(servers.rw, (client) => onClient('rw', client));
        takeOverConnections(servers.ro, (client) => onClient('ro', client));
      }
      return { rw: boundPort(servers.rw), ro: boundPort(servers.ro) };
    },
    stopAccepting() {
      accepting = false;
      servers.rw.close();
      servers.ro.close();
    },
    closeNode(node, scope) {
      const sets = connections[node];
      if (!sets) return;
      if (scope !== 'ro') closeSet(sets.rw);
      if (scope !== 'rw') closeSet(sets.ro);
    },
    closeAll() {
      for (const abort of [...awaiting]) abort();
      for (const sets of connections) {
        closeSet(sets.rw);
        closeSet(sets.ro);
      }
    },
    open: () => openHere,
    // Everything of this plane runs on the event loop: closing the listeners and clients was all.
    stop() {},
  };
}
