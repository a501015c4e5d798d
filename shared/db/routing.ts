/** Where a read goes: round-robin over the healthy replicas, the primary when none is healthy. */
import type { ClusterContext, NodeHandle } from './node-handle.ts';
import type { RoleDiscovery } from './role-discovery.ts';

/** Chooses the node of each read. */
export interface ReadBalancer {
  /** In discovery mode, before any check has told the roles, learns them (else every read would go to the primary). */
  learnRoles(): Promise<void>;
  /** The node for the next read. */
  readNode(): Promise<NodeHandle>;
}

/** The read balancer of one cluster client. */
export function createReadBalancer(context: ClusterContext, roles: RoleDiscovery): ReadBalancer {
  let roundRobin = 0;
  return {
    async learnRoles() {
      if (context.discovery && context.nodes.every((n) => n.role === 'unknown')) await roles.rediscover();
    },
    async readNode() {
      const replicas = context.nodes.filter((n) => n.role === 'replica' && n.healthy);
      if (replicas.length === 0) return roles.primaryNode();
      return replicas[roundRobin++ % replicas.length] as NodeHandle;
    },
  };
}
