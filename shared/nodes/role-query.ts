/**
 * The queries that tell a node's role and timeline. Every component that observes nodes (the topology probe, the
 * proxy's health checks, the cluster client) reads the timeline through `TIMELINE_SQL`, so they cannot disagree.
 */

/**
 * A SQL expression: the timeline the node is on. A primary's is read from its current WAL file name (exact right
 * after promotion, unlike `pg_control_checkpoint()`'s, which lags until the end-of-recovery checkpoint); a
 * replica's from its WAL receiver, else its last restartpoint. `pg_stat_wal_receiver` shows `received_tli` only
 * to pg_read_all_stats members, hence the coalesce. The CASE matters: `pg_current_wal_lsn()` fails in recovery.
 */
export const TIMELINE_SQL = `case when pg_is_in_recovery()
    then coalesce((select received_tli from pg_stat_wal_receiver limit 1), (select timeline_id from pg_control_checkpoint()))
    else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end`;

/** One round trip: role and timeline, what `choosePrimary` needs. */
export const ROLE_SQL = `select pg_is_in_recovery() as recovery, ${TIMELINE_SQL} as timeline`;

/** The cheapest query that shows a promotion (a simple query, no parse of anything but one boolean). */
export const RECOVERY_SQL = 'select pg_is_in_recovery() as recovery';

/** A node's role as `ROLE_SQL` reads it. */
export interface NodeRole {
  readonly recovery: boolean;
  readonly timeline: number | null;
}

/** Anything that runs a query: a `pg.Client`, a pool client, a transaction. */
export interface Queryable {
  query<R extends Record<string, unknown>>(sql: string): Promise<{ rows: R[] }>;
}

/**
 * Reads a node's role and timeline over a connection the caller holds (and times out).
 *
 * @example const { recovery, timeline } = await readRole(client); // { recovery: false, timeline: 2 }
 */
export async function readRole(client: Queryable): Promise<NodeRole> {
  const { rows } = await client.query<{ recovery: boolean; timeline: number | null }>(ROLE_SQL);
  const row = rows[0];
  return { recovery: row?.recovery !== false, timeline: row?.timeline ?? null };
}

/** `pg_is_in_recovery()` over a held connection: the proxy's fast promotion check. */
export async function readRecovery(client: Queryable): Promise<boolean> {
  const { rows } = await client.query<{ recovery: boolean }>(RECOVERY_SQL);
  // A missing row cannot happen; if it did, "in recovery" is the answer that sends no writes anywhere.
  return rows[0]?.recovery !== false;
}
