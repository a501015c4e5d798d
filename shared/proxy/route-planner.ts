/**
 * The proxy's route planner: turns the nodes' last checks into a `RoutePlan` (router.ts), hands its routes to the
 * data planes, logs what changed (primary, split brain, the read-only pool) and fences the read-write clients of a
 * node that is no longer the primary, so no write reaches a superseded primary through this proxy.
 */
import type { Logger } from '../log/index.ts';
import type { Routes } from './data-plane.ts';
import type { NodeHealth } from './health.ts';
import type { ListenerName } from './metrics-types.ts';
import { type NodeObservation, planRoutes, type RoutePlan, type SplitBrain } from './router.ts';

/** A node as the planner sees it: its place in the data planes' tables and its last check. */
export interface PlannedNode {
  readonly index: number;
  readonly name: string;
  readonly health: NodeHealth | null;
  readonly drained: boolean;
}

export interface RoutePlannerOptions<N extends PlannedNode> {
  readonly nodes: readonly N[];
  /** Replicas further behind than this leave the read-only pool (setting `maxLag`). */
  readonly maxLagBytes: number;
  readonly logger: Logger;
  /** Read-write clients open to the node, over every data-plane thread. */
  readonly openReadWrite: (node: N) => number;
  /** Hands new routes to every data plane (called only when they changed). */
  readonly publish: (routes: Routes) => void;
  /** Closes the node's clients of `scope` on every data plane. */
  readonly closeClients: (node: N, scope: ListenerName | 'all') => void;
}

export interface RoutePlanner {
  /** The plan in force. */
  plan(): RoutePlan;
  /** The plan's routes, as the data planes were last given them. */
  routes(): Routes;
  /** Changes of primary seen since start. */
  failovers(): number;
  /** The read-write target is unknown or its last check failed (the checks then run fast). */
  inDoubt(): boolean;
  /** Plans again from the nodes' current checks, publishes the routes, logs the changes and fences. */
  replan(): void;
}

const describeSplitBrain = (splitBrain: SplitBrain) =>
  splitBrain.kind === 'none'
    ? 'none'
    : `${splitBrain.kind}: ${splitBrain.primaries.join(', ')} (timeline ${splitBrain.timeline ?? 'unknown'})`;

/**
 * Creates the planner, starting from the empty plan (no primary) until the first `replan()`.
 *
 * @example
 * const planner = createRoutePlanner({ nodes, maxLagBytes: settings.maxLag, logger, openReadWrite: (n) => counters.open(n.index, 'rw'),
 *   publish: (routes) => planes.setRoutes(routes), closeClients: (n, scope) => planes.closeNode(n.index, scope) });
 * planner.replan(); // after each health check
 */
export function createRoutePlanner<N extends PlannedNode>(options: RoutePlannerOptions<N>): RoutePlanner {
  const { nodes, logger } = options;
  const byName = new Map(nodes.map((n) => [n.name, n]));
  let plan: RoutePlan = planRoutes([], { maxLagBytes: options.maxLagBytes });
  let failovers = 0;
  let lastPrimary: string | null = null;

  const routesOf = (current: RoutePlan): Routes => ({
    primary: current.primary === null ? null : (byName.get(current.primary) as N).index,
    rwRefusal: current.rwRefusal ?? 'no_primary',
    replicas: current.replicas.map((name) => (byName.get(name) as N).index),
  });
  let routes = routesOf(plan);

  /** Hands the plan's routes to every data plane (messages to a worker arrive in order, before any close). */
  const publishRoutes = () => {
    const next = routesOf(plan);
    if (JSON.stringify(next) === JSON.stringify(routes)) return;
    routes = next;
    options.publish(routes);
  };

  /** Read-write connections may only stay on the current primary; with split brain unresolved, on none. */
  const enforceFencing = () => {
    for (const node of nodes) {
      const open = options.openReadWrite(node);
      if (open === 0) continue;
      const fence =
        plan.primary !== null
          ? node.name !== plan.primary
          : plan.splitBrain.kind === 'unresolved' || node.drained || node.health?.recovery === true;
      if (!fence) continue;
      options.closeClients(node, 'rw');
      logger.warn('fenced read-write clients of a node that is no longer the primary', {
        node: node.name,
        clients: open,
        primary: plan.primary,
      });
    }
  };

  const logChanges = (previous: RoutePlan) => {
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
  };

  return {
    plan: () => plan,
    routes: () => routes,
    failovers: () => failovers,
    inDoubt: () => plan.primary === null || byName.get(plan.primary)?.health?.ok !== true,
    replan() {
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
      plan = planRoutes(observations, { maxLagBytes: options.maxLagBytes });
      publishRoutes();
      logChanges(previous);
      enforceFencing();
    },
  };
}
