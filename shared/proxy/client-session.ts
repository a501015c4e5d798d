/**
 * One client's session through a data plane, once its first packet has chosen the node: the backend connect
 * (bounded by the connect deadline), the splice, learning the session's cancel key, and the release of its slot
 * when either end goes. A backend that cannot be reached gets the client an 08006 refusal (wire.ts) and the node a
 * re-check.
 *
 * Kept free of the control plane's imports, as data-plane.ts is: a worker thread loads it.
 */
import { connect, Socket } from 'node:net';
import { createBackendKeyScanner } from './backend-key.ts';
import type { NodeBytes, ProxyCounters } from './counters.ts';
import type { ConnectDeadline } from './deadlines.ts';
import { type BackendLink, connectBackend, type RawLink, socketFor } from './handles.ts';
import type { ListenerName } from './metrics-types.ts';
import { type DataPath, type SpliceStartup, spliceSockets, spliceWithBackend } from './splice.ts';
import type { RefusalReason } from './wire.ts';

/** One proxied client: closing it destroys both ends. */
export interface Connection {
  readonly client: BackendLink;
  readonly server: BackendLink;
}

/** TCP keep-alive on client connections, so a vanished client's slot is freed. */
export const CLIENT_KEEPALIVE_MS = 30_000;

/** A node as the data plane needs it: where to connect. Nodes are referred to by their index. */
export interface PlaneNode {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** What a session needs of its plane. */
export interface PlaneSession {
  /** The plane's slot in the shared counters. */
  readonly slot: number;
  readonly nodes: readonly PlaneNode[];
  readonly counters: ProxyCounters;
  readonly dataPath: DataPath;
  readonly connectDeadlines: { add(deadline: ConnectDeadline): void };
  /** The plane's open clients per node and listener (to close them: fencing, node drain, stop). */
  readonly connections: ReadonlyArray<Readonly<Record<ListenerName, Set<Connection>>>>;
  /** The plane's byte counters per node. */
  readonly bytes: readonly NodeBytes[];
  /** Answers a client with the reason's error (`head`: its first packet, already read). */
  readonly refuse: (
    listener: ListenerName,
    client: Socket | RawLink,
    reason: RefusalReason,
    detail?: Record<string, unknown>,
    head?: Buffer,
  ) => void;
  /** A backend did not accept a connection: the control plane re-checks that node now. */
  readonly onBackendFailed: (node: number) => void;
  /** A session of this plane opened, or closed (the plane counts them, to tell when it is idle). */
  readonly opened: () => void;
  readonly closed: () => void;
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

/**
 * Connects `accepted` to node `node` and splices them; `head` is the client's first packet (`ended`: the client
 * sent its FIN with it), `cancel` whether it is a CancelRequest (then the node's answer is only its close).
 */
export function connectClient(
  session: PlaneSession,
  listener: ListenerName,
  accepted: Socket | RawLink,
  node: number,
  head: Buffer,
  ended: boolean,
  cancel: boolean,
): void {
  const { counters } = session;
  let client = accepted;
  const target = session.nodes[node] as PlaneNode;
  let connected = false;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    // The key goes with the session that owns it, not with the routes (after a failover the old primary still takes it).
    counters.keys.forget(keyEntry);
    if (encrypted) counters.keys.encryptedClosed();
    session.connections[node]?.[listener].delete(connection);
    counters.closed(node, listener);
    counters.releaseClient();
    session.closed();
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
    else if (open) session.refuse(listener, client, 'backend_unreachable', { node: target.name, error }, head);
    session.onBackendFailed(node);
  };
  const deadline: ConnectDeadline = { done: false, expire: () => fail('connect timeout') };
  const counter = session.bytes[node] as NodeBytes;
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
    session.dataPath === 'handles'
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
        spliceSockets(client as Socket, server, counter, release, session.dataPath, startup);
      },
      failed: fail,
    });
  const connection: Connection = { client, server: backend };
  session.connections[node]?.[listener].add(connection);
  counters.opened(session.slot, node, listener);
  session.opened();
  session.connectDeadlines.add(deadline);
  const gone = () => {
    if (!connected) abandon();
  };
  if (client instanceof Socket) {
    client.once('close', gone);
    client.setKeepAlive(true, CLIENT_KEEPALIVE_MS);
  } else {
    client.onClosed = gone;
  }
}
