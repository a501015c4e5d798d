import type { DownProbe, NodeProbe, PrimaryProbe, ReplicaProbe, UnknownProbe } from './probe.ts';

/** The nodes that did not take part in the verdict, listed in every outcome. */
interface VerdictRest {
  replicas: ReplicaProbe[];
  down: DownProbe[];
  unknown: UnknownProbe[];
}

/** Exactly one node is primary: the endpoints can follow it. */
export interface TopologyOk extends VerdictRest {
  kind: 'ok';
  primary: PrimaryProbe;
}

/** Several nodes accept writes (split brain): writing any endpoint could send clients to the wrong one. */
export interface TopologyMultiplePrimaries extends VerdictRest {
  kind: 'multiple_primaries';
  primaries: PrimaryProbe[];
}

/** No reachable node accepts writes: failover has not happened (yet), or every node is down. */
export interface TopologyNoPrimary extends VerdictRest {
  kind: 'no_primary';
}

export type TopologyVerdict = TopologyOk | TopologyMultiplePrimaries | TopologyNoPrimary;

/**
 * Judges a cluster's probes. Expected outcomes are values, never exceptions.
 * An `unknown` node does not block an `ok` verdict: the one primary that answered is still the best target, and
 * the unknown node is reported (and alerted on) rather than guessed about.
 */
export function verifyTopology(probes: readonly NodeProbe[]): TopologyVerdict {
  const primaries = probes.filter((p): p is PrimaryProbe => p.state === 'primary');
  const rest: VerdictRest = {
    replicas: probes.filter((p): p is ReplicaProbe => p.state === 'replica'),
    down: probes.filter((p): p is DownProbe => p.state === 'down'),
    unknown: probes.filter((p): p is UnknownProbe => p.state === 'unknown'),
  };
  const [primary] = primaries;
  if (primaries.length > 1) return { kind: 'multiple_primaries', primaries, ...rest };
  if (primary) return { kind: 'ok', primary, ...rest };
  return { kind: 'no_primary', ...rest };
}
