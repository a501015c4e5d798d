/**
 * Routing decisions as pure functions of what the health checks saw: which node takes read-write, which take
 * read-only, and whether two primaries are running (split brain).
 */

import { parseLsn as parseWalLocation } from '../db/index.ts';
import { choosePrimary, writeTarget } from '../nodes/index.ts';
import type { RefusalReason } from './wire.ts';

/** The last health check of one node, as the router needs it. */
export interface NodeObservation {
  readonly name: string;
  /** The last check succeeded. */
  readonly up: boolean;
  readonly recovery: boolean | null;
  readonly timeline: number | null;
  /** A primary's current WAL position, a replica's replay position. */
  readonly lsn: bigint | null;
  /** A replica's received WAL position. */
  readonly receiveLsn: bigint | null;
  /** Taken out of routing by an operator (`POST /nodes/{name}/drain`). */
  readonly drained: boolean;
}

export type SplitBrain =
  | { readonly kind: 'none' }
  /** Two or more primaries, one on a strictly higher timeline: the newer promotion takes read-write. */
  | { readonly kind: 'resolved'; readonly primaries: string[]; readonly chosen: string; readonly timeline: number }
  /** Two or more primaries share the highest timeline: read-write is refused until an operator resolves it. */
  | { readonly kind: 'unresolved'; readonly primaries: string[]; readonly timeline: number | null };

export interface RoutePlan {
  /** The read-write target, or null (then `rwRefusal` says why). */
  readonly primary: string | null;
  readonly rwRefusal: RefusalReason | null;
  /** Read-only candidates: healthy replicas within `maxLagBytes`, in node order. */
  readonly replicas: string[];
  /** Replay lag in bytes per replica (null when it cannot be told). */
  readonly lag: Readonly<Record<string, number | null>>;
  readonly splitBrain: SplitBrain;
}

/** A WAL location from a health-check row, or null when the server reported none (shared/db parses it). */
export function parseLsn(text: string | null | undefined): bigint | null {
  return text ? parseWalLocation(text) : null;
}

/**
 * Decides the routes. Never routes read-write to a node in recovery; with several primaries, read-write follows
 * the one rule for who is primary (shared/nodes `choosePrimary`): only the one on a strictly higher timeline,
 * else nowhere (fail closed).
 *
 * @example planRoutes(observations, { maxLagBytes: 16 * 1024 * 1024 }).primary // 'pg-0'
 */
export function planRoutes(nodes: readonly NodeObservation[], options: { maxLagBytes: number }): RoutePlan {
  const verdict = choosePrimary(
    nodes.map((node) => ({ node, name: node.name, writable: node.up && node.recovery === false, timeline: node.timeline })),
  );
  const primary = writeTarget(verdict)?.node ?? null;
  let splitBrain: SplitBrain = { kind: 'none' };
  let rwRefusal: RefusalReason | null = null;
  if (verdict.kind === 'superseded') {
    const primaries = nodes.filter((n) => n.up && n.recovery === false).map((n) => n.name);
    splitBrain = { kind: 'resolved', primaries, chosen: verdict.primary.name, timeline: verdict.timeline };
  } else if (verdict.kind === 'ambiguous') {
    splitBrain = { kind: 'unresolved', primaries: verdict.candidates.map((c) => c.name), timeline: verdict.timeline };
    rwRefusal = 'split_brain';
  } else if (verdict.kind === 'none') {
    rwRefusal = 'no_primary';
  }
  if (primary?.drained) {
    rwRefusal = 'no_primary';
  }
  const lag: Record<string, number | null> = {};
  const replicas: string[] = [];
  for (const node of nodes) {
    if (!node.up || node.recovery !== true) continue;
    let bytes: bigint | null = null;
    if (node.lsn !== null && primary?.lsn != null) bytes = primary.lsn > node.lsn ? primary.lsn - node.lsn : 0n;
    else if (node.lsn !== null && node.receiveLsn !== null) bytes = node.receiveLsn > node.lsn ? node.receiveLsn - node.lsn : 0n;
    lag[node.name] = bytes === null ? null : Number(bytes);
    if (!node.drained && bytes !== null && bytes <= BigInt(options.maxLagBytes)) replicas.push(node.name);
  }
  return { primary: primary && !primary.drained ? primary.name : null, rwRefusal, replicas, lag, splitBrain };
}
