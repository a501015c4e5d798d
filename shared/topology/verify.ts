import { choosePrimary, writeTarget } from '../nodes/index.ts';
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

/**
 * Several nodes accept writes (split brain). The one rule for who is primary (shared/nodes) settles where writes
 * go: to the one on a strictly newer timeline, else nowhere.
 */
export interface TopologyMultiplePrimaries extends VerdictRest {
  kind: 'multiple_primaries';
  primaries: PrimaryProbe[];
  /** The primary on a strictly newer timeline than every other: the RW endpoints follow it. Null: none can be told. */
  primary: PrimaryProbe | null;
  /** The primaries `primary` supersedes: stale, they never take writes (empty when `primary` is null). */
  superseded: PrimaryProbe[];
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
  const verdict = choosePrimary(primaries.map((probe) => ({ probe, name: probe.node, writable: true, timeline: probe.timeline })));
  switch (verdict.kind) {
    case 'none':
      return { kind: 'no_primary', ...rest };
    case 'single':
      return { kind: 'ok', primary: verdict.primary.probe, ...rest };
    default: {
      const superseded = verdict.kind === 'superseded' ? verdict.superseded.map((s) => s.probe) : [];
      return { kind: 'multiple_primaries', primaries, primary: writeTarget(verdict)?.probe ?? null, superseded, ...rest };
    }
  }
}

/** The primary the RW endpoints point at under a verdict, or null when no node may take writes. */
export function writablePrimary(verdict: TopologyVerdict): PrimaryProbe | null {
  return verdict.kind === 'no_primary' ? null : verdict.primary;
}
