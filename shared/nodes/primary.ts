/**
 * The one rule for who is primary. The proxy router, the topology planner and the cluster client all ask it, so
 * no two of them can send writes to different nodes.
 */

/** What the rule needs to know about one node; callers map their own observations onto it. */
export interface RoleObservation {
  readonly name: string;
  /** Reachable and `pg_is_in_recovery() = false` at the last look. */
  readonly writable: boolean;
  /** The timeline the node writes on; null when it could not be read. */
  readonly timeline: number | null;
}

/** Who takes writes, as a value: callers decide what to do with each kind. `T` is the caller's own node type. */
export type PrimaryVerdict<T extends RoleObservation = RoleObservation> =
  /** Exactly one writable node. */
  | { readonly kind: 'single'; readonly primary: T }
  /**
   * Several writable nodes, one on a strictly higher timeline than every other: it was promoted from their
   * history (a promotion always starts a new timeline), so it holds the newer truth and the others are stale.
   */
  | { readonly kind: 'superseded'; readonly primary: T; readonly timeline: number; readonly superseded: readonly T[] }
  /**
   * Several writable nodes that cannot be ordered: they share the highest timeline, or one's timeline is
   * unknown. `timeline` is the highest known one (null when none is known). Writes go nowhere.
   */
  | { readonly kind: 'ambiguous'; readonly candidates: readonly T[]; readonly timeline: number | null }
  /** No writable node. */
  | { readonly kind: 'none' };

/**
 * Decides who takes writes: a node superseded by a strictly newer timeline never does; writable nodes that cannot
 * be ordered (same highest timeline, or a timeline unknown) mean nobody does. Pure; nodes keep their input order
 * in the result.
 *
 * @example
 * choosePrimary([
 *   { name: 'pg-0', writable: true, timeline: 1 },
 *   { name: 'pg-1', writable: true, timeline: 2 },
 *   { name: 'pg-2', writable: false, timeline: 2 },
 * ]);
 * // { kind: 'superseded', primary: pg-1's observation, timeline: 2, superseded: [pg-0's observation] }
 */
export function choosePrimary<T extends RoleObservation>(nodes: readonly T[]): PrimaryVerdict<T> {
  const writable = nodes.filter((node) => node.writable);
  const [first] = writable;
  if (first === undefined) return { kind: 'none' };
  if (writable.length === 1) return { kind: 'single', primary: first };
  const known = writable.map((node) => node.timeline).filter((timeline): timeline is number => timeline !== null);
  const top = known.length > 0 ? Math.max(...known) : null;
  // An unknown timeline could be the newest one: nothing may be assumed about it.
  const onTop = writable.filter((node) => node.timeline === top);
  const [newest] = onTop;
  if (newest === undefined || top === null || onTop.length > 1 || known.length < writable.length) {
    return { kind: 'ambiguous', candidates: writable, timeline: top };
  }
  return { kind: 'superseded', primary: newest, timeline: top, superseded: writable.filter((node) => node !== newest) };
}

/** The node that takes writes under a verdict, or null when none may. */
export function writeTarget<T extends RoleObservation>(verdict: PrimaryVerdict<T>): T | null {
  return verdict.kind === 'single' || verdict.kind === 'superseded' ? verdict.primary : null;
}

/** Names nodes with their timelines for logs and errors: `pg-0 (timeline 1), pg-1 (timeline ?)`. */
export function describeClaims(nodes: readonly RoleObservation[]): string {
  return nodes.map((node) => `${node.name} (timeline ${node.timeline ?? '?'})`).join(', ');
}
