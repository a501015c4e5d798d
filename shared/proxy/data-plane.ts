/**
 * The data plane of one thread: the two listeners, admission of each client, the backend connect and the splice.
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
import { connect, createServer, isIP, type Server, Socket } from 'node:net';
import { cancelKey, classifyFirstPacket, createBackendKeyScanner } from './backend-key.ts';
import type { ProxyCounters } from './counters.ts';
import { type ConnectDeadline, createDeadlineQueue } from './deadlines.ts';
import { type BackendLink, connectBackend, type RawLink, readFirstPacket, socketFor, takeOverConnections, tuneClient } from './handles.ts';
import { boundPort, listen } from './listen.ts';
import type { ListenerName } from './metrics.ts';
import { type DataPath, type SpliceStartup, spliceSockets, spliceWithBackend } from './splice.ts';
import { type RefusalReason, refuseClient } from './wire.ts';

/** A node as the data plane needs it: where to connect. Nodes are referred to by their index. */
export interface PlaneNode {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** Where new clients go, decided by the control plane. */
export interface Routes {
  /** Index of the read-write target, or null (then `rwRefusal` says why). */
  readonly primary: number | null;
  readonly rwRefusal: RefusalReason;
  /** Indexes of the read-only candidates (least connections among them; the primary when empty). */
  readonly replicas: readonly number[];
}

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

/** One proxied client: closing it destroys both ends. */
interface Connection {
  readonly client: BackendLink;
  readonly server: BackendLink;
}

/** TCP keep-alive on client connections, so a vanished client's slot is freed. */
const CLIENT_KEEPALIVE_MS = 30_000;

/**
 * Least connections with a round-robin tie-break: the candidate with the fewest active connections; among equals,
 * the first at or after `cursor` (the caller advances it), so an idle pool still spreads evenly.
 */
export function pickLeastConnections<T>(candidates: readonly T[], active: (candidate: T) => number, cursor: number): T | null {
  const count = candidates.length;
  if (count === 0) return null;
  let best: T | null = null;
  let bestActive = Number.POSITIVE_INFINITY;
  for (let i = 0; i < count; i++) {
    const candidate = candidates[(cursor + i) % count] as T;
    const n = active(candidate);
    if (n < bestActive) {
      best = candidate;
      bestActive = n;
    }
  }
  return best;
}

/** A backend connection through `net.connect`: for a node given by name (DNS on every connect), or the streams path. */
function connectSocket(
  target: { host: string; port: number },
  on: { connected: (server: Socket) => void; failed: (error: string) => void },
): Socket {
  // allowHalfOpen: a node's FIN ends only its direction (the splice passes it on), as a client's does.
  const server = connect({ host: target.host, port: target.port, noDelay: true, keepAlive: true, allowHalfOpen: true });
  // Paused, so net does not start reading on 'connect': the splice takes over the reads.
  server.pause();
  server.on('error', () => {});
  server.once('connect', () => on.connected(server));
  server.once('error', (error: NodeJS.ErrnoException) => on.failed(error.code ?? error.message));
  server.once('close', () => on.failed('closed'));
  return server;
}

/** Creates a thread's data plane (nothing listens until `listen()`). */
export function createDataPlane(options: DataPlaneOptions): DataPlane {
  const { nodes, slot, counters, maxClients, connectTimeout, dataPath } = options;
  let routes = options.routes;
  let accepting = true;
  let rrCursor = 0;
  const connectDeadlines = createDeadlineQueue(connectTimeout);
  /** This plane's open clients per node and listener (to close them: fencing, node drain, stop). */
  const connections = nodes.map(() => ({ rw: new Set<Connection>(), ro: new Set<Connection>() }));
  const bytes = nodes.map((_, index) => counters.bytes(slot, index));
  let openHere = 0;
  const openTotal = (node: number) => counters.open(node, 'rw') + counters.open(node, 'ro');

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

  const targetFor = (listener: ListenerName): number | RefusalReason => {
    if (listener === 'rw') return routes.primary ?? routes.rwRefusal;
    const node = pickLeastConnections(routes.replicas, openTotal, rrCursor++);
    if (node !== null) return node;
    return routes.primary ?? 'no_target';
  };

  /**
   * A new client: a `net.Socket` (streams path, or a listener net still owns) or a bare handle (takeOverConnections).
   * Its first packet is read before a node is chosen (a CancelRequest goes where its key was issued); the wait is
   * bounded by the connect timeout.
   */
  const onClient = (listener: ListenerName, client: Socket | RawLink) => {
    if (client instanceof Socket) client.on('error', () => {});
    else tuneClient(client, CLIENT_KEEPALIVE_MS);
    if (!accepting) return refuse(listener, client, 'shutting_down');
    if (!counters.reserveClient(maxClients)) return refuse(listener, client, 'too_many_clients', { max: maxClients });
    const abort = () => {
      if (deadline.done) return;
      deadline.done = true;
      awaiting.delete(abort);
      stopReading();
      client.destroy();
      counters.releaseClient();
    };
    const deadline: ConnectDeadline = { done: false, expire: abort };
    const stopReading = readFirstPacket(
      client,
      (head) => classifyFirstPacket(head) !== 'more',
      (head, ended) => {
        if (deadline.done) return;
        if (head === null) return abort();
        deadline.done = true;
        awaiting.delete(abort);
        routeClient(listener, client, head, ended);
      },
    );
    if (deadline.done) return;
    awaiting.add(abort);
    connectDeadlines.add(deadline);
  };

  /**
   * Where a first packet goes: a CancelRequest to the node that issued its key (dropped, as PostgreSQL drops an
   * unknown key, unless encrypted sessions may own it: backend-key.ts), anything else by the listener's rule.
   */
  const targetOf = (listener: ListenerName, head: Buffer, cancel: boolean): number | RefusalReason | 'drop' => {
    if (!cancel) return targetFor(listener);
    const { pid, keyHash } = cancelKey(head);
    const node = counters.keys.lookup(pid, keyHash);
    if (node >= 0) return node;
    if (counters.keys.encrypted() === 0) return 'drop';
    const fallback = targetFor(listener);
    return typeof fallback === 'number' ? fallback : 'drop';
  };

  /** A client whose first packet is read: routed, connected and spliced, or turned away. */
  const routeClient = (listener: ListenerName, accepted: Socket | RawLink, head: Buffer, ended: boolean) => {
    let client = accepted;
    const cancel = classifyFirstPacket(head) === 'cancel';
    const node = targetOf(listener, head, cancel);
    if (node === 'drop') {
      client.destroy();
      return counters.releaseClient();
    }
    if (typeof node === 'string') {
      counters.releaseClient();
      return refuse(listener, client, node, undefined, head);
    }
    const target = nodes[node] as PlaneNode;
    let connected = false;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      // The key goes with the session that owns it, not with the routes (after a failover the old primary still takes it).
      counters.keys.forget(keyEntry);
      if (encrypted) counters.keys.encryptedClosed();
      connections[node]?.[listener].delete(connection);
      counters.closed(node, listener);
      counters.releaseClient();
      openHere--;
      if (openHere === 0) options.onIdle();
    };
    /** The client left, or its backend never connected: stop waiting and free the slot. */
    const abandon = () => {
      deadline.done = true;
      backend.destroy();
      release();
    };
    const fail = (error: string) => {
      if (connected || released) return;
      abandon();
      const open = client instanceof Socket ? !client.destroyed : !client.closing;
      // A cancel gets no answer, as from PostgreSQL.
      if (cancel) client.destroy();
      else if (open) refuse(listener, client, 'backend_unreachable', { node: target.name, error }, head);
      options.onBackendFailed(node);
    };
    const deadline: ConnectDeadline = { done: false, expire: () => fail('connect timeout') };
    const counter = bytes[node] as (typeof bytes)[number];
    let keyEntry = -1;
    let encrypted = false;
    const startup: SpliceStartup = {
      initial: head,
      clientEnded: ended,
      // A cancel's node answers nothing but its close: no key to learn.
      scanner: cancel
        ? null
        : createBackendKeyScanner(
            (pid, keyHash) => {
              if (keyEntry < 0) keyEntry = counters.keys.record(pid, keyHash, node);
            },
            () => {
              encrypted = true;
              counters.keys.encryptedOpened();
            },
          ),
    };
    const raw: RawLink | null =
      dataPath === 'handles'
        ? connectBackend(target.host, target.port, (error) => {
            if (error !== null) return fail(error);
            if (released) return;
            connected = true;
            deadline.done = true;
            spliceWithBackend(client, raw as RawLink, counter, release, startup);
          })
        : null;
    // Only a node given by name gets here with a bare client: net.connect resolves it, and the splice takes Sockets.
    if (!raw && !(client instanceof Socket)) client = socketFor(client);
    const backend: BackendLink =
      raw ??
      connectSocket(target, {
        connected: (server) => {
          connected = true;
          deadline.done = true;
          spliceSockets(client as Socket, server, counter, release, dataPath, startup);
        },
        failed: fail,
      });
    const connection: Connection = { client, server: backend };
    connections[node]?.[listener].add(connection);
    counters.opened(slot, node, listener);
    openHere++;
    connectDeadlines.add(deadline);
    const gone = () => {
      if (!connected) abandon();
    };
    if (client instanceof Socket) {
      client.once('close', gone);
      client.setKeepAlive(true, CLIENT_KEEPALIVE_MS);
    } else {
      client.onClosed = gone;
    }
  };

  const servers: Record<ListenerName, Server> = {
    rw: createServer({ pauseOnConnect: true, noDelay: true, allowHalfOpen: true }, (socket) => onClient('rw', socket)),
    ro: createServer({ pauseOnConnect: true, noDelay: true, allowHalfOpen: true }, (socket) => onClient('ro', socket)),
  };

  const closeSet = (set: Set<Connection>) => {
    for (const connection of [...set]) closeConnection(connection);
  };

  return {
    setRoutes(next) {
      routes = next;
    },
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
