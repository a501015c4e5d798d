/**
 * The HA proxy: a read-write listener that follows the primary, a read-only listener over healthy replicas
 * (least connections), health checks, fencing of a demoted primary's clients, graceful drain, the HTTP API and,
 * with a Lease elector, the floating address.
 */
import { connect, createServer, isIP, Socket } from 'node:net';
import type { ProxySettings } from '../config/index.ts';
import { nodeAddress } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import type { AddressManager } from './address.ts';
import { createIpAddressManager } from './address.ts';
import { createApiServer } from './api.ts';
import { ProxyConfigError } from './errors.ts';
import { createNodeMonitor, type NodeHealth, type NodeMonitor } from './health.ts';
import { boundPort, listen } from './listen.ts';
import { createProxyMetrics, type ListenerName, type ProxyMetrics } from './metrics.ts';
import { type NodeObservation, pickLeastConnections, planRoutes, type RoutePlan, type SplitBrain } from './router.ts';
import {
  type BackendLink,
  type ByteCounter,
  connectBackend,
  type DataPath,
  defaultDataPath,
  type RawLink,
  socketFor,
  spliceSockets,
  spliceWithBackend,
  takeOverConnections,
  tuneClient,
} from './splice.ts';
import { REFUSAL_SQLSTATE, type RefusalReason, refuseClient } from './wire.ts';

/** Timers, injectable so tests and simulations control time. */
export interface ProxyClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const systemClock: ProxyClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The shape of `shared/k8s`'s `createLeaderElector` result. */
export interface LeaderElector {
  start(): void;
  stop(): Promise<void>;
  isLeader(): boolean;
}

/** Builds an elector wired to the proxy's callbacks (so the proxy decides what leading means: holding the VIP). */
export type LeaderElectorFactory = (handlers: { onStartedLeading: () => void; onStoppedLeading: () => void }) => LeaderElector;

export interface ProxyNode {
  readonly name: string;
  /** The node URL; its user and password are the monitoring login. Clients bring their own credentials. */
  readonly url: string;
}

export interface CreateProxyOptions {
  readonly nodes: readonly ProxyNode[];
  readonly settings: ProxySettings;
  readonly logger: Logger;
  readonly clock?: ProxyClock;
  /** Lease-based leader election; without one this proxy is the only instance and leads from the start. */
  readonly elector?: LeaderElectorFactory;
  /** The floating address; default: `ip addr` on `settings.vipInterface` when `settings.vip` is set. */
  readonly addresses?: AddressManager;
  /** How bytes are moved (see splice.ts); default the fastest the runtime supports. */
  readonly dataPath?: DataPath;
  /** Probe interval while no primary is known or the primary's check failed. Default 100 ms. */
  readonly fastCheckIntervalMs?: number;
}

export type ProxyStatus = 'created' | 'starting' | 'running' | 'draining' | 'stopped';
export type NodeRole = 'primary' | 'replica' | 'unknown';

export interface NodeState {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly role: NodeRole;
  readonly up: boolean;
  readonly drained: boolean;
  readonly timeline: number | null;
  readonly lagBytes: number | null;
  /** Serving: the read-write target, or in the read-only pool. */
  readonly routing: { readonly rw: boolean; readonly ro: boolean };
  readonly connections: Readonly<Record<ListenerName, number>>;
  readonly connectionsTotal: Readonly<Record<ListenerName, number>>;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly lastCheckMs: number | null;
  readonly lastCheckAt: string | null;
  readonly error: string | null;
}

export interface ProxyState {
  readonly status: ProxyStatus;
  readonly leader: boolean;
  readonly primary: string | null;
  /** Why read-write is refused now (null while a primary is routed). */
  readonly rwRefusal: RefusalReason | null;
  readonly replicas: string[];
  readonly splitBrain: SplitBrain;
  readonly failovers: number;
  readonly clients: { readonly active: number; readonly max: number };
  readonly nodes: NodeState[];
}

export interface ProxyService {
  /** Binds the listeners and the API, runs a first round of checks, starts the elector. */
  start(): Promise<void>;
  /** Stops accepting, waits up to `drainTimeout` for clients to leave, then closes the rest and stops. */
  drain(): Promise<void>;
  /** Closes everything now (clients included) and releases the floating address. Idempotent. */
  stop(): Promise<void>;
  state(): ProxyState;
  /** Takes a node out of routing and closes its clients. False for an unknown node. */
  drainNode(name: string): boolean;
  undrainNode(name: string): boolean;
  readonly metrics: ProxyMetrics;
  /** The bound ports (useful when settings asked for port 0). */
  readonly ports: { readonly rw: number; readonly ro: number; readonly api: number };
}

/** One proxied client: closing it destroys both ends. */
interface Connection {
  readonly client: BackendLink;
  readonly server: BackendLink;
}

interface NodeRuntime extends ByteCounter {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly monitor: NodeMonitor;
  health: NodeHealth | null;
  lastCheckAt: number | null;
  drained: boolean;
  /** Open clients per listener: their counts are the active connections. */
  readonly connections: Record<ListenerName, Set<Connection>>;
  readonly total: Record<ListenerName, number>;
  timer: unknown;
  checking: boolean;
  /** A check was asked for while one ran: run again right after. */
  again: boolean;
}

const REFUSAL_MESSAGE: Record<RefusalReason, string> = {
  too_many_clients: 'too many clients through pgwarden proxy',
  no_primary: 'no primary available through pgwarden proxy',
  split_brain: 'split brain: several primaries on the same timeline; pgwarden proxy refuses read-write connections',
  no_target: 'no node available for read-only connections through pgwarden proxy',
  backend_unreachable: 'pgwarden proxy could not connect to the database node',
  shutting_down: 'pgwarden proxy is shutting down',
};

/** TCP keep-alive on client connections, so a vanished client's slot is freed. */
const CLIENT_KEEPALIVE_MS = 30_000;

interface ConnectDeadline {
  /** Connected, failed or the client left: the deadline no longer matters. */
  done: boolean;
  expire(): void;
}

/** A backend connection through `net.connect`: for a node given by name (DNS on every connect), or the streams path. */
function connectSocket(
  target: { host: string; port: number },
  on: { connected: (server: Socket) => void; failed: (error: string) => void },
): Socket {
  const server = connect({ host: target.host, port: target.port, noDelay: true, keepAlive: true });
  // Paused, so net does not start reading on 'connect': the splice takes over the reads.
  server.pause();
  server.on('error', () => {});
  server.once('connect', () => on.connected(server));
  server.once('error', (error: NodeJS.ErrnoException) => on.failed(error.code ?? error.message));
  server.once('close', () => on.failed('closed'));
  return server;
}

/**
 * Backend connect timeouts on one timer: every connect gets the same timeout, so deadlines expire in the order
 * they were added and only the oldest pending one needs a timer. A `setTimeout`/`clearTimeout` per new client
 * (a timer-list insert and removal each) showed in the `pgbench -C` profile; this is an array push.
 */
function createDeadlineQueue(timeoutMs: number): { add(deadline: ConnectDeadline): void } {
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

/**
 * Creates the proxy (nothing listens until `start()`).
 *
 * @example
 * const proxy = createProxy({ nodes: [{ name: 'pg-0', url }, { name: 'pg-1', url: url1 }], settings: config.proxy, logger });
 * await proxy.start();
 * process.once('SIGTERM', () => proxy.drain());
 */
export function createProxy(options: CreateProxyOptions): ProxyService {
  const { settings, logger } = options;
  const clock = options.clock ?? systemClock;
  const dataPath = options.dataPath ?? defaultDataPath;
  const fastInterval = Math.min(options.fastCheckIntervalMs ?? 100, settings.checkInterval);
  if (options.nodes.length === 0) throw new ProxyConfigError('nodes: the proxy needs at least one node (--url name=URL)');
  if (settings.vip && !settings.vipInterface && !options.addresses) {
    throw new ProxyConfigError(`vipInterface: required with vip ${settings.vip} (the interface that carries the address, like eth0)`);
  }
  const seen = new Set<string>();
  let status: ProxyStatus = 'created';
  let plan: RoutePlan = planRoutes([], { maxLagBytes: settings.maxLag });
  let failovers = 0;
  let lastPrimary: string | null = null;
  let rrCursor = 0;
  let leading = false;
  let fastMode = false;
  const refused = new Map<string, number>();
  const connectDeadlines = createDeadlineQueue(settings.connectTimeout);

  const checking = () => status === 'starting' || status === 'running' || status === 'draining';

  const recheck = (node: NodeRuntime) => {
    if (!checking()) return;
    if (node.checking) {
      node.again = true;
      return;
    }
    clock.clearTimeout(node.timer);
    void runCheck(node);
  };

  const nodes: NodeRuntime[] = options.nodes.map((node) => {
    if (seen.has(node.name)) throw new ProxyConfigError(`nodes: duplicate node name "${node.name}"`);
    seen.add(node.name);
    const { host, port } = nodeAddress(node);
    const runtime: NodeRuntime = {
      name: node.name,
      host,
      port,
      monitor: createNodeMonitor({
        name: node.name,
        url: node.url,
        timeoutMs: settings.checkTimeout,
        logger,
        onConnectionLost: () => recheck(runtime),
      }),
      health: null,
      lastCheckAt: null,
      drained: false,
      connections: { rw: new Set(), ro: new Set() },
      total: { rw: 0, ro: 0 },
      bytesIn: 0,
      bytesOut: 0,
      timer: undefined,
      checking: false,
      again: false,
    };
    return runtime;
  });
  const byName = new Map(nodes.map((n) => [n.name, n]));

  const openConnections = (node: NodeRuntime) => node.connections.rw.size + node.connections.ro.size;
  const activeClients = () => {
    let count = 0;
    for (const node of nodes) count += openConnections(node);
    return count;
  };

  const metrics = createProxyMetrics({
    nodes: () =>
      nodes.map((n) => ({
        name: n.name,
        active: { rw: n.connections.rw.size, ro: n.connections.ro.size },
        total: n.total,
        bytesIn: n.bytesIn,
        bytesOut: n.bytesOut,
        up: n.health?.ok === true,
        lagBytes: plan.lag[n.name] ?? null,
      })),
    refused: () => [...refused].map(([key, count]) => [...(key.split('/') as [ListenerName, string]), count]),
    splitBrain: () => (plan.splitBrain.kind === 'none' ? 0 : plan.splitBrain.kind === 'resolved' ? 1 : 2),
    leader: () => leading,
    failovers: () => failovers,
  });

  const closeConnection = (connection: Connection) => {
    connection.client.destroy();
    connection.server.destroy();
  };

  /** Read-write connections may only stay on the current primary; with split brain unresolved, on none. */
  const enforceFencing = () => {
    for (const node of nodes) {
      const rw = node.connections.rw;
      if (rw.size === 0) continue;
      const fence =
        plan.primary !== null
          ? node.name !== plan.primary
          : plan.splitBrain.kind === 'unresolved' || node.drained || node.health?.recovery === true;
      if (!fence) continue;
      const closed = rw.size;
      for (const connection of rw) closeConnection(connection);
      logger.warn('fenced read-write clients of a node that is no longer the primary', {
        node: node.name,
        clients: closed,
        primary: plan.primary,
      });
    }
  };

  const describeSplitBrain = (splitBrain: SplitBrain) =>
    splitBrain.kind === 'none'
      ? 'none'
      : `${splitBrain.kind}: ${splitBrain.primaries.join(', ')} (timeline ${splitBrain.timeline ?? 'unknown'})`;

  const replan = () => {
    const observations: NodeObservation[] = nodes.map((n) => ({
      name: n.name,
      up: n.health?.ok === true,
      recovery: n.health?.recovery ?? null,
      timeline: n.health?.timeline ?? null,
      lsn: n.health?.lsn ?? null,
      receiveLsn: n.health?.receiveLsn ?? null,
      drained: n.drained,
    }));
    const previous = plan;
    plan = planRoutes(observations, { maxLagBytes: settings.maxLag });
    if (plan.primary !== null && lastPrimary !== null && plan.primary !== lastPrimary) {
      failovers++;
      logger.warn('primary changed', { from: lastPrimary, to: plan.primary });
    } else if (plan.primary !== null && lastPrimary === null) {
      logger.info('primary found', { primary: plan.primary });
    }
    if (plan.primary === null && previous.primary !== null) {
      logger.warn('no read-write target', { previous: previous.primary, reason: plan.rwRefusal });
    }
    if (plan.primary !== null) lastPrimary = plan.primary;
    if (describeSplitBrain(plan.splitBrain) !== describeSplitBrain(previous.splitBrain)) {
      if (plan.splitBrain.kind === 'none') logger.info('split brain resolved');
      else logger.error('split brain: more than one primary', { state: describeSplitBrain(plan.splitBrain), primary: plan.primary });
    }
    if (plan.replicas.join(',') !== previous.replicas.join(','))
      logger.info('read-only pool changed', { replicas: plan.replicas.join(',') });
    enforceFencing();
  };

  /** Checks faster while the read-write target is unknown or in doubt, to follow a promotion within ~0.1–0.2 s. */
  const nextDelay = () => {
    if (plan.primary === null) return fastInterval;
    const primary = byName.get(plan.primary);
    return primary?.health?.ok === true ? settings.checkInterval : fastInterval;
  };

  const runCheck = async (node: NodeRuntime): Promise<void> => {
    node.checking = true;
    node.again = false;
    const health = await node.monitor.check();
    node.checking = false;
    if (!checking()) return;
    const wasOk = node.health?.ok;
    node.health = health;
    node.lastCheckAt = clock.now();
    metrics.observeCheck(node.name, health.latencyMs / 1000, health.ok);
    if (!health.ok && wasOk !== false) logger.warn('health check failed', { node: node.name, error: health.error });
    if (health.ok && wasOk === false) logger.info('node reachable again', { node: node.name });
    replan();
    // Entering doubt: every node's next check comes now, not at its old 1 s tick, so a promotion is seen at once.
    const fast = nextDelay() < settings.checkInterval;
    if (fast && !fastMode) {
      fastMode = true;
      for (const other of nodes) if (other !== node) recheck(other);
    } else if (!fast) {
      fastMode = false;
    }
    if (node.again) {
      void runCheck(node);
      return;
    }
    node.timer = clock.setTimeout(() => void runCheck(node), nextDelay());
  };

  /** Answers a client with the reason's error; a bare client gets a `net.Socket` for it (see `socketFor`). */
  const refuse = (listener: ListenerName, client: Socket | RawLink, reason: RefusalReason, detail?: Record<string, unknown>) => {
    const key = `${listener}/${reason}`;
    refused.set(key, (refused.get(key) ?? 0) + 1);
    logger.debug('client refused', { listener, reason, ...detail });
    const socket = client instanceof Socket ? client : socketFor(client);
    refuseClient(socket, REFUSAL_SQLSTATE[reason], REFUSAL_MESSAGE[reason], settings.connectTimeout);
  };

  const targetFor = (listener: ListenerName): NodeRuntime | RefusalReason => {
    if (listener === 'rw') {
      return plan.primary !== null ? (byName.get(plan.primary) as NodeRuntime) : (plan.rwRefusal ?? 'no_primary');
    }
    const cursor = rrCursor++;
    const name = pickLeastConnections(plan.replicas, (n) => openConnections(byName.get(n) as NodeRuntime), cursor);
    if (name !== null) return byName.get(name) as NodeRuntime;
    return plan.primary !== null ? (byName.get(plan.primary) as NodeRuntime) : 'no_target';
  };

  /** The node a new client on `listener` goes to, or why it is turned away. */
  const admit = (listener: ListenerName): NodeRuntime | RefusalReason => {
    if (status !== 'running') return 'shutting_down';
    if (activeClients() >= settings.maxClients) return 'too_many_clients';
    return targetFor(listener);
  };

  /** A new client: a `net.Socket` (streams path, or a listener net still owns) or a bare handle (takeOverConnections). */
  const onClient = (listener: ListenerName, accepted: Socket | RawLink) => {
    let client = accepted;
    if (client instanceof Socket) client.on('error', () => {});
    else tuneClient(client, CLIENT_KEEPALIVE_MS);
    const target = admit(listener);
    if (typeof target === 'string') {
      const detail = target === 'too_many_clients' ? { max: settings.maxClients } : undefined;
      refuse(listener, client, target, detail);
      return;
    }
    let connected = false;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      target.connections[listener].delete(connection);
      if (onIdle && activeClients() === 0) onIdle();
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
      if (open) refuse(listener, client, 'backend_unreachable', { node: target.name, error });
      recheck(target);
    };
    const deadline: ConnectDeadline = { done: false, expire: () => fail('connect timeout') };
    const raw: RawLink | null =
      dataPath === 'handles'
        ? connectBackend(target.host, target.port, (error) => {
            if (error !== null) return fail(error);
            if (released) return;
            connected = true;
            deadline.done = true;
            spliceWithBackend(client, raw as RawLink, target, release);
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
          spliceSockets(client as Socket, server, target, release, dataPath);
        },
        failed: fail,
      });
    const connection: Connection = { client, server: backend };
    target.connections[listener].add(connection);
    target.total[listener]++;
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

  let onIdle: (() => void) | undefined;
  const rwServer = createServer({ pauseOnConnect: true, noDelay: true }, (socket) => onClient('rw', socket));
  const roServer = createServer({ pauseOnConnect: true, noDelay: true }, (socket) => onClient('ro', socket));

  const ports = { rw: 0, ro: 0, api: 0 };

  const state = (): ProxyState => ({
    status,
    leader: leading,
    primary: plan.primary,
    rwRefusal: plan.primary === null ? (plan.rwRefusal ?? 'no_primary') : null,
    replicas: [...plan.replicas],
    splitBrain: plan.splitBrain,
    failovers,
    clients: { active: activeClients(), max: settings.maxClients },
    nodes: nodes.map((n) => ({
      name: n.name,
      host: n.host,
      port: n.port,
      role: n.health?.ok ? (n.health.recovery ? 'replica' : 'primary') : 'unknown',
      up: n.health?.ok === true,
      drained: n.drained,
      timeline: n.health?.timeline ?? null,
      lagBytes: plan.lag[n.name] ?? null,
      routing: { rw: plan.primary === n.name, ro: plan.replicas.includes(n.name) },
      connections: { rw: n.connections.rw.size, ro: n.connections.ro.size },
      connectionsTotal: { ...n.total },
      bytesIn: n.bytesIn,
      bytesOut: n.bytesOut,
      lastCheckMs: n.health ? Math.round(n.health.latencyMs * 10) / 10 : null,
      lastCheckAt: n.lastCheckAt === null ? null : new Date(n.lastCheckAt).toISOString(),
      error: n.health?.error ?? null,
    })),
  });

  const drainNode = (name: string): boolean => {
    const node = byName.get(name);
    if (!node) return false;
    node.drained = true;
    const clients = openConnections(node);
    for (const connection of [...node.connections.rw, ...node.connections.ro]) closeConnection(connection);
    logger.warn('node drained: out of routing, clients closed', { node: name, clients });
    replan();
    return true;
  };

  const undrainNode = (name: string): boolean => {
    const node = byName.get(name);
    if (!node) return false;
    node.drained = false;
    logger.info('node undrained: back in routing', { node: name });
    replan();
    return true;
  };

  const api = createApiServer({
    token: settings.apiToken,
    logger,
    registry: metrics.registry,
    state,
    drainNode,
    undrainNode,
  });

  const addresses: AddressManager | undefined =
    options.addresses ??
    (settings.vip && settings.vipInterface
      ? createIpAddressManager({ address: settings.vip, interface: settings.vipInterface, logger })
      : undefined);

  // Leadership transitions run one after another, so a quick lose/win never interleaves `ip addr` commands.
  let addressQueue: Promise<void> = Promise.resolve();
  const onStartedLeading = () => {
    leading = true;
    logger.info(options.elector ? 'lease won: this proxy leads' : 'no lease configured: this proxy leads as the only instance', {
      vip: addresses?.address,
    });
    if (!addresses) return;
    addressQueue = addressQueue.then(async () => {
      if (!leading) return;
      await addresses.add().catch((error: unknown) => logger.error('cannot add the floating address', { error }));
    });
  };
  const onStoppedLeading = () => {
    leading = false;
    logger.warn('leadership ended: dropping the floating address first', { vip: addresses?.address });
    if (!addresses) return;
    addressQueue = addressQueue.then(async () => {
      await addresses.remove().catch((error: unknown) => logger.error('cannot remove the floating address', { error }));
    });
  };
  const elector = options.elector?.({ onStartedLeading, onStoppedLeading });

  let stopping: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      status = 'stopped';
      for (const node of nodes) clock.clearTimeout(node.timer);
      rwServer.close();
      roServer.close();
      for (const node of nodes) for (const connection of [...node.connections.rw, ...node.connections.ro]) closeConnection(connection);
      if (elector) await elector.stop();
      if (leading) onStoppedLeading();
      await addressQueue;
      await Promise.all(nodes.map((n) => n.monitor.close()));
      await api.close();
      logger.info('proxy stopped');
    })();
    return stopping;
  };

  return {
    metrics,
    ports,
    state,
    drainNode,
    undrainNode,
    stop,
    async start() {
      if (status !== 'created') throw new ProxyConfigError(`start: the proxy is ${status}; create a new one`);
      status = 'starting';
      // A first round of checks before anything listens, so the first client does not meet "no primary".
      await Promise.all(nodes.map((n) => runCheck(n)));
      try {
        await listen(rwServer, settings.rwPort, settings.listenHost, 'read-write listener');
        await listen(roServer, settings.roPort, settings.listenHost, 'read-only listener');
        await api.listen(settings.apiPort, settings.apiHost);
      } catch (error) {
        await stop();
        throw error;
      }
      // Accepted clients as bare handles (see takeOverConnections); a node given by name needs net.connect's
      // Sockets on both ends, so then net keeps building client Sockets.
      if (dataPath === 'handles' && nodes.every((n) => isIP(n.host) !== 0)) {
        takeOverConnections(rwServer, (client) => onClient('rw', client));
        takeOverConnections(roServer, (client) => onClient('ro', client));
      }
      ports.rw = boundPort(rwServer);
      ports.ro = boundPort(roServer);
      ports.api = api.port();
      status = 'running';
      if (elector) elector.start();
      else onStartedLeading();
      logger.info('proxy running', {
        rw: `${settings.listenHost}:${ports.rw}`,
        ro: `${settings.listenHost}:${ports.ro}`,
        api: `${settings.apiHost}:${ports.api}`,
        primary: plan.primary,
        replicas: plan.replicas.join(','),
      });
    },
    async drain() {
      if (status !== 'running') return stop();
      status = 'draining';
      rwServer.close();
      roServer.close();
      logger.info('draining: not accepting new clients', { clients: activeClients(), timeoutMs: settings.drainTimeout });
      if (activeClients() > 0) {
        await new Promise<void>((resolve) => {
          const timer = clock.setTimeout(() => {
            logger.warn('drain timeout: closing the remaining clients', { clients: activeClients() });
            resolve();
          }, settings.drainTimeout);
          onIdle = () => {
            clock.clearTimeout(timer);
            resolve();
          };
        });
      }
      await stop();
    },
  };
}
