/**
 * The proxy's API wiring: the state `/topology` and the metrics read, the drain and undrain of one node, and the
 * HTTP server (api.ts) and metrics registry (metrics.ts) built over them.
 */
import type { ProxySettings } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import { type ApiServer, createApiServer } from './api.ts';
import type { ProxyCounters } from './counters.ts';
import { createProxyMetrics, type ProxyMetrics } from './metrics.ts';
import type { ListenerName } from './metrics-types.ts';
import type { PlannedNode, RoutePlanner } from './route-planner.ts';
import type { RoutePlan } from './router.ts';
import type { NodeState, ProxyDataPath, ProxyState, ProxyStatus } from './types.ts';

/** A node as the API sees it: the planner's view, where it is, and when it was last checked. */
export interface ApiNode extends PlannedNode {
  readonly host: string;
  readonly port: number;
  readonly lastCheckAt: number | null;
  drained: boolean;
}

export interface ProxyApiOptions<N extends ApiNode> {
  readonly nodes: readonly N[];
  readonly settings: Pick<ProxySettings, 'apiToken' | 'maxClients'>;
  readonly logger: Logger;
  readonly planner: RoutePlanner;
  readonly counters: ProxyCounters;
  /** Data-plane threads. */
  readonly threads: number;
  readonly dataPath: ProxyDataPath;
  readonly status: () => ProxyStatus;
  readonly leading: () => boolean;
  /** Closes the node's clients of `scope` on every data plane. */
  readonly closeClients: (node: N, scope: ListenerName | 'all') => void;
}

export interface ProxyApi {
  state(): ProxyState;
  /** Takes a node out of routing and closes its clients. False for an unknown node. */
  drainNode(name: string): boolean;
  undrainNode(name: string): boolean;
  readonly metrics: ProxyMetrics;
  readonly server: ApiServer;
}

/**
 * Wires the state, the node actions, the metrics and the API server (nothing listens until `server.listen`).
 *
 * @example
 * const api = wireProxyApi({ nodes, settings, logger, planner, counters, threads, dataPath: 'native',
 *   status: () => status, leading: () => leadership.leading(), closeClients });
 * await api.server.listen(settings.apiPort, settings.apiHost);
 */
export function wireProxyApi<N extends ApiNode>(options: ProxyApiOptions<N>): ProxyApi {
  const { nodes, planner, counters, logger } = options;
  const byName = new Map(nodes.map((n) => [n.name, n]));

  const nodeState = (n: N, plan: RoutePlan): NodeState => {
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
  };

  const state = (): ProxyState => {
    const plan = planner.plan();
    return {
      status: options.status(),
      leader: options.leading(),
      primary: plan.primary,
      rwRefusal: plan.primary === null ? (plan.rwRefusal ?? 'no_primary') : null,
      replicas: [...plan.replicas],
      splitBrain: plan.splitBrain,
      failovers: planner.failovers(),
      workers: options.threads,
      dataPath: options.dataPath,
      clients: { active: counters.clients(), max: options.settings.maxClients },
      nodes: nodes.map((n) => nodeState(n, plan)),
    };
  };

  const drainNode = (name: string): boolean => {
    const node = byName.get(name);
    if (!node) return false;
    node.drained = true;
    const clients = counters.open(node.index, 'rw') + counters.open(node.index, 'ro');
    options.closeClients(node, 'all');
    logger.warn('node drained: out of routing, clients closed', { node: name, clients });
    planner.replan();
    return true;
  };

  const undrainNode = (name: string): boolean => {
    const node = byName.get(name);
    if (!node) return false;
    node.drained = false;
    logger.info('node undrained: back in routing', { node: name });
    planner.replan();
    return true;
  };

  const metrics = createProxyMetrics({
    state,
    refused: () => counters.refusals(),
    workers: () => Array.from({ length: options.threads }, (_, slot) => counters.routedBy(slot)),
  });

  const server = createApiServer({ token: options.settings.apiToken, logger, registry: metrics.registry, state, drainNode, undrainNode });
  return { state, drainNode, undrainNode, metrics, server };
}
