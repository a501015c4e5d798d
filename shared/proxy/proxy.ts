/**
 * The HA proxy: a read-write listener that follows the primary, a read-only listener over healthy replicas
 * (least connections), health checks, fencing of a demoted primary's clients, graceful drain, the HTTP API and,
 * with a Lease elector, the floating address.
 */
import type { ProxySettings } from '../config/index.ts';
import { nodeAddress } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import type { AddressManager } from './address.ts';
import { wireProxyApi } from './api-wiring.ts';
import { createCheckScheduler } from './checks.ts';
import { ProxyOptionsError } from './errors.ts';
import { createNodeMonitor, type NodeHealth, type NodeMonitor } from './health.ts';
import { createLeadership } from './leadership.ts';
import type { ProxyMetrics } from './metrics.ts';
import { createProxyPlanes, dataThreads, type ProxyPlanes } from './planes.ts';
import { createRoutePlanner } from './route-planner.ts';
import type { RoutePlan } from './router.ts';
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

/** The options' own checks, before anything is built (each node's are in `createNodeRuntimes`). */
function checkProxyOptions(options: CreateProxyOptions): void {
  const { settings } = options;
  if (options.nodes.length === 0) throw new ProxyOptionsError('nodes: the proxy needs at least one node (--url name=URL)');
  if (settings.vip && !settings.vipInterface && !options.addresses) {
    throw new ProxyOptionsError(`vipInterface: required with vip ${settings.vip} (the interface that carries the address, like eth0)`);
  }
}

/** One runtime per node, each with its monitoring connection; losing that connection asks for a re-check. */
function createNodeRuntimes(
  proxyNodes: readonly ProxyNode[],
  settings: ProxySettings,
  logger: Logger,
  recheck: (node: NodeRuntime) => void,
): NodeRuntime[] {
  const seen = new Set<string>();
  return proxyNodes.map((node, index) => {
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
}

/** What the "proxy running" line says: where it listens, how it moves bytes, where it routes. */
function runningFields(
  settings: ProxySettings,
  ports: { rw: number; ro: number; api: number },
  threads: number,
  dataPath: ProxyPlanes['dataPath'],
  plan: RoutePlan,
): Record<string, unknown> {
  return {
    rw: `${settings.listenHost}:${ports.rw}`,
    ro: `${settings.listenHost}:${ports.ro}`,
    api: `${settings.apiHost}:${ports.api}`,
    workers: threads,
    dataPath: dataPath.path,
    ...('why' in dataPath && dataPath.why ? { dataPathReason: dataPath.why } : {}),
    primary: plan.primary,
    replicas: plan.replicas.join(','),
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
  checkProxyOptions(options);
  const threads = dataThreads(settings.workers);
  let status: ProxyStatus = 'created';

  const checking = () => status === 'starting' || status === 'running' || status === 'draining';
  const recheck = (node: NodeRuntime) => checks.recheck(node);
  const nodes = createNodeRuntimes(options.nodes, settings, logger, recheck);

  /** Plans routes from the checks and fences a demoted primary's clients (route-planner.ts). */
  const planner = createRoutePlanner({
    nodes,
    maxLagBytes: settings.maxLag,
    logger,
    openReadWrite: (node) => counters.open(node.index, 'rw'),
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

  /** The state, the node actions, the metrics and the HTTP API over them (api-wiring.ts). */
  const api = wireProxyApi({
    nodes,
    settings,
    logger,
    planner,
    counters,
    threads,
    dataPath: dataPath.path,
    status: () => status,
    leading: () => leadership.leading(),
    closeClients: (node, scope) => planes.closeNode(node.index, scope),
  });
  const { metrics, state, drainNode, undrainNode } = api;

  /** Full checks (faster while the read-write target is in doubt) and the promotion watch on replicas (checks.ts). */
  const checks = createCheckScheduler({
    nodes,
    clock,
    checkInterval: settings.checkInterval,
    fastInterval: Math.min(options.fastCheckIntervalMs ?? 100, settings.checkInterval),
    promotionCheckInterval: settings.promotionCheckInterval,
    logger,
    active: checking,
    inDoubt: () => planner.inDoubt(),
    onChecked: (node, health) => {
      metrics.observeCheck(node.name, health.latencyMs / 1000, health.ok);
      planner.replan();
    },
  });

  const ports = { rw: 0, ro: 0, api: 0 };
  /** The floating address, held while this proxy leads (leadership.ts). */
  const leadership = createLeadership({ settings, logger, elector: options.elector, addresses: options.addresses });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      status = 'stopped';
      checks.stop();
      await planes.stop();
      await leadership.stop();
      await Promise.all(nodes.map((n) => n.monitor.close()));
      await api.server.close();
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
        await api.server.listen(settings.apiPort, settings.apiHost);
      } catch (error) {
        await stop();
        throw error;
      }
      ports.api = api.server.port();
      status = 'running';
      checks.startWatch();
      leadership.start();
      logger.info('proxy running', runningFields(settings, ports, threads, dataPath, planner.plan()));
    },
    async drain() {
      if (status !== 'running') return stop();
      status = 'draining';
      await planes.drain();
      await stop();
    },
  };
}
