/**
 * The HA proxy: a read-write listener that follows the primary, a read-only listener over healthy replicas
 * (least connections), health checks, fencing of a demoted primary's clients, graceful drain, the HTTP API and,
 * with a Lease elector, the floating address.
 */
import type { ProxySettings } from '../config/index.ts';
import { nodeAddress } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import type { AddressManager } from './address.ts';
import { createIpAddressManager } from './address.ts';
import { createApiServer } from './api.ts';
import { createCheckScheduler } from './checks.ts';
import { ProxyOptionsError } from './errors.ts';
import { createNodeMonitor, type NodeHealth, type NodeMonitor } from './health.ts';
import { createProxyMetrics, type ProxyMetrics } from './metrics.ts';
import { createProxyPlanes, dataThreads } from './planes.ts';
import { createRoutePlanner } from './route-planner.ts';
import type { LeaderElectorFactory, ProxyClock, ProxyDataPath, ProxyNode, ProxyState, ProxyStatus } from './types.ts';

const systemClock: ProxyClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface CreateProxyOptions {
  readonly nodes: readonly ProxyNode[];
  readonly settings: ProxySettings;
  readonly logger: Logger;
  readonly clock?: ProxyClock;
  /** Lease-based leader election; without one this proxy is the only instance and leads from the start. */
  readonly elector?: LeaderElectorFactory;
  /** The floating address; default: `ip addr` on `settings.vipInterface` when `settings.vip` is set. */
  readonly addresses?: AddressManager;
  /** How bytes are moved (see native.ts and splice.ts); default the fastest this machine supports. */
  readonly dataPath?: ProxyDataPath;
  /** Probe interval while no primary is known or the primary's check failed. Default 100 ms. */
  readonly fastCheckIntervalMs?: number;
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

interface NodeRuntime {
  readonly index: number;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly monitor: NodeMonitor;
  health: NodeHealth | null;
  lastCheckAt: number | null;
  drained: boolean;
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
  const fastInterval = Math.min(options.fastCheckIntervalMs ?? 100, settings.checkInterval);
  if (options.nodes.length === 0) throw new ProxyOptionsError('nodes: the proxy needs at least one node (--url name=URL)');
  if (settings.vip && !settings.vipInterface && !options.addresses) {
    throw new ProxyOptionsError(`vipInterface: required with vip ${settings.vip} (the interface that carries the address, like eth0)`);
  }
  const threads = dataThreads(settings.workers);
  const seen = new Set<string>();
  let status: ProxyStatus = 'created';
  let leading = false;

  const checking = () => status === 'starting' || status === 'running' || status === 'draining';

  const recheck = (node: NodeRuntime) => checks.recheck(node);

  const nodes: NodeRuntime[] = options.nodes.map((node, index) => {
    if (seen.has(node.name)) throw new ProxyOptionsError(`nodes: duplicate node name "${node.name}"`);
    seen.add(node.name);
    const { host, port } = nodeAddress(node);
    const runtime: NodeRuntime = {
      index,
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
    };
    return runtime;
  });
  const byName = new Map(nodes.map((n) => [n.name, n]));
  /** Plans routes from the checks and fences a demoted primary's clients (route-planner.ts). */
  const planner = createRoutePlanner({
    nodes,
    maxLagBytes: settings.maxLag,
    logger,
    openReadWrite: (node) => counters.open(node.index, 'rw'),
    // Messages to a worker arrive in order, so a worker has the new routes before any close that follows.
    publish: (routes) => planes.setRoutes(routes),
    closeClients: (node, scope) => planes.closeNode(node.index, scope),
  });

  /** The data planes on the native or JavaScript path, with `threads` sharing the ports (planes.ts). */
  const planes = createProxyPlanes({
    nodes: nodes.map(({ name, host, port }) => ({ name, host, port })),
    threads,
    dataPath: options.dataPath,
    settings,
    routes: () => planner.routes(),
    logger,
    clock,
    recheck: (index) => recheck(nodes[index] as NodeRuntime),
    serving: () => status === 'running' || status === 'draining',
  });
  const { counters, dataPath } = planes;

  const openConnections = (node: NodeRuntime) => counters.open(node.index, 'rw') + counters.open(node.index, 'ro');

  const metrics = createProxyMetrics({
    state: () => state(),
    refused: () => counters.refusals(),
    workers: () => Array.from({ length: threads }, (_, slot) => counters.routedBy(slot)),
  });

  const replan = () => planner.replan();

  /**
   * Full checks, faster while the read-write target is unknown or in doubt, and the promotion watch on replicas,
   * so a promotion is followed within ~0.1–0.2 s whether or not the old primary stays up (checks.ts).
   */
  const checks = createCheckScheduler({
    nodes,
    clock,
    checkInterval: settings.checkInterval,
    fastInterval,
    promotionCheckInterval: settings.promotionCheckInterval,
    logger,
    active: checking,
    inDoubt: () => {
      const { primary } = planner.plan();
      return primary === null || byName.get(primary)?.health?.ok !== true;
    },
    onChecked: (node, health) => {
      metrics.observeCheck(node.name, health.latencyMs / 1000, health.ok);
      replan();
    },
  });

  const ports = { rw: 0, ro: 0, api: 0 };

  const state = (): ProxyState => {
    const plan = planner.plan();
    return {
      status,
      leader: leading,
      primary: plan.primary,
      rwRefusal: plan.primary === null ? (plan.rwRefusal ?? 'no_primary') : null,
      replicas: [...plan.replicas],
      splitBrain: plan.splitBrain,
      failovers: planner.failovers(),
      workers: threads,
      dataPath: dataPath.path,
      clients: { active: counters.clients(), max: settings.maxClients },
      nodes: nodes.map((n) => {
        const traffic = counters.traffic(n.index);
        return {
          name: n.name,
          host: n.host,
          port: n.port,
          role: n.health?.ok ? (n.health.recovery ? 'replica' : 'primary') : 'unknown',
          up: n.health?.ok === true,
          drained: n.drained,
          timeline: n.health?.timeline ?? null,
          lagBytes: plan.lag[n.name] ?? null,
          routing: { rw: plan.primary === n.name, ro: plan.replicas.includes(n.name) },
          connections: traffic.open,
          connectionsTotal: traffic.total,
          bytesIn: traffic.bytesIn,
          bytesOut: traffic.bytesOut,
          lastCheckMs: n.health ? Math.round(n.health.latencyMs * 10) / 10 : null,
          lastCheckAt: n.lastCheckAt === null ? null : new Date(n.lastCheckAt).toISOString(),
          error: n.health?.error ?? null,
        };
      }),
    };
  };

  const drainNode = (name: string): boolean => {
    const node = byName.get(name);
    if (!node) return false;
    node.drained = true;
    const clients = openConnections(node);
    planes.closeNode(node.index, 'all');
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
      checks.stop();
      await planes.stop();
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
      if (status !== 'created') throw new ProxyOptionsError(`start: the proxy is ${status}; create a new one`);
      status = 'starting';
      // A first round of checks before anything listens, so the first client does not meet "no primary".
      await checks.checkAll();
      try {
        const bound = await planes.listen();
        ports.rw = bound.rw;
        ports.ro = bound.ro;
        await planes.startWorkers(bound);
        await api.listen(settings.apiPort, settings.apiHost);
      } catch (error) {
        await stop();
        throw error;
      }
      ports.api = api.port();
      status = 'running';
      checks.startWatch();
      if (elector) elector.start();
      else onStartedLeading();
      logger.info('proxy running', {
        rw: `${settings.listenHost}:${ports.rw}`,
        ro: `${settings.listenHost}:${ports.ro}`,
        api: `${settings.apiHost}:${ports.api}`,
        workers: threads,
        dataPath: dataPath.path,
        ...('why' in dataPath && dataPath.why ? { dataPathReason: dataPath.why } : {}),
        primary: planner.plan().primary,
        replicas: planner.plan().replicas.join(','),
      });
    },
    async drain() {
      if (status !== 'running') return stop();
      status = 'draining';
      await planes.drain();
      await stop();
    },
  };
}
