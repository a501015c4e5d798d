/**
 * The proxy's view of the cluster as labelled series: each node's role and routing, split brain, and the client
 * limit. Every series is read from the same state `/topology` shows, so the metrics and the API cannot disagree.
 * Enumerations follow Prometheus' state-set convention: one series per possible value, 1 for the current one and
 * 0 for the others, so a rule can match `role="down"` without knowing the previous value.
 */
import { Gauge, type Registry } from 'prom-client';
import { PROXY_METRIC_PREFIX } from './metrics-process.ts';
import type { MetricsNode, MetricsState } from './metrics-types.ts';
import type { SplitBrain } from './router.ts';

/** `down`: checked and unreachable; `unknown`: not checked yet; else what `pg_is_in_recovery()` said. */
type MetricsRole = MetricsNode['role'] | 'down';

const ROLES: readonly MetricsRole[] = ['primary', 'replica', 'unknown', 'down'];
/** Every split-brain kind; the `satisfies` makes a new kind in router.ts fail to compile until it is listed. */
const SPLIT_BRAIN_STATES = Object.keys({ none: 0, resolved: 0, unresolved: 0 } satisfies Record<SplitBrain['kind'], 0>);

/** The role label of a node. */
function metricsRole(node: MetricsNode): MetricsRole {
  if (!node.up && node.lastCheckAt !== null) return 'down';
  return node.role;
}

/** Registers the state series on `registry`; `state` is read at every scrape. */
export function registerStateMetrics(registry: Registry, state: () => MetricsState): void {
  new Gauge({
    name: `${PROXY_METRIC_PREFIX}node_role`,
    help: "The proxy's view of each node's role: 1 for the current role (primary, replica, unknown, down), 0 for the others",
    labelNames: ['node', 'role'],
    registers: [registry],
    collect() {
      this.reset();
      for (const node of state().nodes) {
        const current = metricsRole(node);
        for (const role of ROLES) this.set({ node: node.name, role }, role === current ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: `${PROXY_METRIC_PREFIX}node_routed`,
    help: '1 while the node serves the listener: the read-write target (rw) or in the read-only pool (ro)',
    labelNames: ['node', 'listener'],
    registers: [registry],
    collect() {
      this.reset();
      for (const node of state().nodes) {
        this.set({ node: node.name, listener: 'rw' }, node.routing.rw ? 1 : 0);
        this.set({ node: node.name, listener: 'ro' }, node.routing.ro ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: `${PROXY_METRIC_PREFIX}split_brain_state`,
    help: 'Split brain as a state set: none (one primary), resolved (several, the newest timeline takes read-write), unresolved (read-write refused)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      const current = state().splitBrain.kind;
      for (const kind of SPLIT_BRAIN_STATES) this.set({ state: kind }, kind === current ? 1 : 0);
    },
  });
  new Gauge({
    name: `${PROXY_METRIC_PREFIX}clients_active`,
    help: 'Client connections holding a slot of the client limit now, over every listener and thread',
    registers: [registry],
    collect() {
      this.set(state().clients.active);
    },
  });
  new Gauge({
    name: `${PROXY_METRIC_PREFIX}clients_max`,
    help: 'The client limit (setting maxClients): clients beyond it are refused with SQLSTATE 53300',
    registers: [registry],
    collect() {
      this.set(state().clients.max);
    },
  });
}
