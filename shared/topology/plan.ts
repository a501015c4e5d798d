import type { DesiredEndpoints, EndpointAddress } from './endpoints.ts';
import { endpointsSignature } from './endpoints.ts';
import { TopologyOptionsError } from './errors.ts';
import type { ReplicaProbe } from './probe.ts';
import { type TopologyVerdict, writablePrimary } from './verify.ts';

export interface PlanOptions {
  namespace: string;
  rwService: string;
  roService: string;
  /** The port written into every address; default each node's own port. */
  port?: number;
  /** Replicas further behind than this leave the read-only endpoints. Default 16 MiB. */
  maxLagBytes?: number;
  /** With no qualifying replica, the read-only endpoints point at the primary. Default true. */
  roFallbackToPrimary?: boolean;
}

/** Why a replica is not in the read-only endpoints. */
export interface ExcludedReplica {
  node: string;
  reason: 'lagging' | 'lag_unknown';
  lagBytes: number | null;
}

export type EndpointsPlan =
  | {
      kind: 'planned';
      rw: DesiredEndpoints;
      ro: DesiredEndpoints;
      /** The read-only endpoints hold the primary because no replica qualified. */
      roFallback: boolean;
      excluded: ExcludedReplica[];
    }
  /** No node is primary: nothing is written, so the endpoints keep their last verified target. */
  | { kind: 'blocked'; verdict: 'no_primary' };

export const DEFAULT_MAX_LAG_BYTES = 16 * 1024 * 1024;

function desired(service: string, namespace: string, addresses: EndpointAddress[]): DesiredEndpoints {
  return { service, namespace, addresses, signature: endpointsSignature(addresses) };
}

/**
 * What the read-write and read-only endpoints should hold for a verdict: RW the primary; RO the replicas within
 * `maxLagBytes` (or the primary, when none qualifies and `roFallbackToPrimary` is on, else nothing). With several
 * primaries RW follows the one on a strictly newer timeline (the superseded ones are in neither object), and when
 * they cannot be ordered RW is planned empty: writes go nowhere, rather than to whichever node it held before.
 * `no_primary` plans nothing.
 *
 * @example
 * const plan = planEndpoints(verifyTopology(probes), { namespace: 'db', rwService: 'pg-rw', roService: 'pg-ro' });
 * if (plan.kind === 'planned') await writer.apply(plan.rw);
 */
export function planEndpoints(verdict: TopologyVerdict, options: PlanOptions): EndpointsPlan {
  const maxLagBytes = options.maxLagBytes ?? DEFAULT_MAX_LAG_BYTES;
  if (!Number.isFinite(maxLagBytes) || maxLagBytes < 0) {
    throw new TopologyOptionsError('maxLagBytes', `expected a number of bytes ≥ 0, got ${maxLagBytes}`);
  }
  if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535)) {
    throw new TopologyOptionsError('port', `expected a TCP port 1–65535, got ${options.port}`);
  }
  if (verdict.kind === 'no_primary') return { kind: 'blocked', verdict: verdict.kind };
  const primary = writablePrimary(verdict);

  const address = (probe: { node: string; ip: string | null; host: string; port: number }): EndpointAddress => ({
    // Probed nodes always have an IP (they were connected to); the host is a last resort that keeps the type total.
    ip: probe.ip ?? probe.host,
    port: options.port ?? probe.port,
    node: probe.node,
  });
  const excluded: ExcludedReplica[] = [];
  const healthy: ReplicaProbe[] = [];
  for (const replica of verdict.replicas) {
    if (replica.lagBytes === null) excluded.push({ node: replica.node, reason: 'lag_unknown', lagBytes: null });
    else if (replica.lagBytes > maxLagBytes) excluded.push({ node: replica.node, reason: 'lagging', lagBytes: replica.lagBytes });
    else healthy.push(replica);
  }
  const roFallback = primary !== null && healthy.length === 0 && (options.roFallbackToPrimary ?? true);
  const roAddresses = roFallback ? [address(primary)] : healthy.map(address);
  return {
    kind: 'planned',
    rw: desired(options.rwService, options.namespace, primary ? [address(primary)] : []),
    ro: desired(options.roService, options.namespace, roAddresses),
    roFallback,
    excluded,
  };
}
