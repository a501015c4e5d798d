/**
 * Who is primary. With fixed roles, the configured primary; in discovery mode, the answer of shared/nodes' one
 * rule over the roles and timelines the health checks read (a superseded primary never takes writes).
 */
import { choosePrimary, describeClaims, type PrimaryVerdict, type RoleObservation, writeTarget } from '../nodes/index.ts';
import { NoHealthyNodeError } from './errors.ts';
import type { ClusterContext, NodeHandle } from './node-handle.ts';
import type { NodeRole } from './types.ts';

/** The answer to "where do writes go", kept current by rounds of health checks. */
export interface RoleDiscovery {
  /** Checks every node now and reports the verdict; concurrent callers share one round of checks. */
  rediscover(): Promise<void>;
  /** The node writes go to; rediscovers once when unsure and throws `NoHealthyNodeError` when still unsure. */
  primaryNode(): Promise<NodeHandle>;
  /** The node writes go to now, if known, without checking. */
  primaryName(): string | undefined;
  /** The round of checks in flight, if any (so `close` can wait for it). */
  inFlight(): Promise<void> | undefined;
}

/** Records a node's role as a health check read it; logs and reports a change. */
export function setRole(context: ClusterContext, node: NodeHandle, role: NodeRole): void {
  if (node.role === role) return;
  const previous = node.role;
  node.role = role;
  if (previous !== 'unknown' || role === 'primary') context.logger.info('node role changed', { node: node.name, from: previous, to: role });
  context.hooks.onNodeChange?.({ node: node.name, healthy: node.healthy, role });
}

/** Role discovery over `context.nodes`; `checkAll` is one round of health checks (which records the roles). */
export function createRoleDiscovery(context: ClusterContext, checkAll: () => Promise<void>): RoleDiscovery {
  const { nodes, discovery, logger } = context;
  let discovering: Promise<void> | undefined;

  const whoIsPrimary = (): PrimaryVerdict<RoleObservation & { handle: NodeHandle }> =>
    choosePrimary(nodes.map((n) => ({ handle: n, name: n.name, writable: n.healthy && n.role === 'primary', timeline: n.timeline })));

  const checkAndReport = async (): Promise<void> => {
    if (context.isClosed()) return;
    await checkAll();
    if (!discovery) return;
    const verdict = whoIsPrimary();
    if (verdict.kind === 'ambiguous' || verdict.kind === 'superseded') {
      const claims = verdict.kind === 'ambiguous' ? verdict.candidates : [verdict.primary, ...verdict.superseded];
      logger.error(
        verdict.kind === 'ambiguous'
          ? 'more than one node claims to be primary and their timelines do not order them; writes are refused'
          : `more than one node claims to be primary; writes go to ${verdict.primary.name}, on the newest timeline`,
        { primaries: describeClaims(claims) },
      );
    }
  };

  const rediscover = (): Promise<void> => {
    discovering ??= checkAndReport().finally(() => {
      discovering = undefined;
    });
    return discovering;
  };

  return {
    rediscover,
    async primaryNode() {
      if (!discovery) return nodes[0] as NodeHandle;
      let verdict = whoIsPrimary();
      if (verdict.kind !== 'single' && verdict.kind !== 'superseded') {
        await rediscover();
        verdict = whoIsPrimary();
      }
      if (verdict.kind === 'single' || verdict.kind === 'superseded') return verdict.primary.handle;
      throw new NoHealthyNodeError(
        verdict.kind === 'ambiguous'
          ? `more than one node claims to be primary (${verdict.candidates.map((n) => n.name).join(', ')}) and their timelines do not tell which is newest; refusing to write`
          : 'no node is primary',
        { nodes: nodes.map((n) => n.name) },
      );
    },
    primaryName() {
      if (!discovery) return nodes[0]?.name;
      return writeTarget(whoIsPrimary())?.name;
    },
    inFlight: () => discovering,
  };
}
