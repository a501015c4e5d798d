/**
 * Observing one node: the one query every observer runs (the topology probe, the proxy's health checks, the
 * cluster client's role discovery), so they cannot disagree on a node's role, timeline or WAL positions.
 */

/**
 * A SQL expression: the timeline the node is on. A primary's is read from its current WAL file name (exact right
 * after promotion, unlike `pg_control_checkpoint()`'s, which lags until the end-of-recovery checkpoint); a
 * replica's from its WAL receiver, else its last restartpoint. `pg_stat_wal_receiver` shows `received_tli` only
 * to pg_read_all_stats members, hence the coalesce.
 */
const TIMELINE_SQL = `case when pg_is_in_recovery()
    then coalesce((select received_tli from pg_stat_wal_receiver limit 1), (select timeline_id from pg_control_checkpoint()))
    else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end`;

/*
 * One round trip. The CASE guards matter: pg_current_wal_lsn() and pg_walfile_name() fail during recovery, and
 * pg_is_wal_replay_paused() fails outside it. A freshly started standby can report a receive LSN below its replay
 * LSN (receiving restarts at a segment boundary), so "caught up" is receive <= replay, not equality. Checked to
 * run for a login without any extra role, on a primary and on a replica.
 */
const OBSERVE_SQL = `select
  pg_is_in_recovery() as recovery,
  ${TIMELINE_SQL} as timeline,
  case when pg_is_in_recovery() then null else pg_current_wal_lsn()::text end as current_lsn,
  case when pg_is_in_recovery() then pg_last_wal_receive_lsn()::text end as receive_lsn,
  case when pg_is_in_recovery() then pg_last_wal_replay_lsn()::text end as replay_lsn,
  case when pg_is_in_recovery() then pg_is_wal_replay_paused() else false end as replay_paused,
  case when not pg_is_in_recovery() then null
       when pg_last_wal_receive_lsn() is null or pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() then 0
       else extract(epoch from now() - pg_last_xact_replay_timestamp())::float8 end as lag_seconds`;

/** The cheapest query that shows a promotion (a simple query, no parse of anything but one boolean). */
export const RECOVERY_SQL = 'select pg_is_in_recovery() as recovery';

/** What one look at a node saw. WAL locations are `pg_lsn` text (`16/B374D848`); shared/db's parseLsn reads them. */
export interface NodeReading {
  /** `pg_is_in_recovery()`: a replica (standby) when true. */
  readonly recovery: boolean;
  /** The timeline the node is on; null when it could not be read. */
  readonly timeline: number | null;
  /** A primary's `pg_current_wal_lsn()`; null on a replica. */
  readonly currentLsn: string | null;
  /** A replica's last received WAL location; null on a primary, or before anything was received. */
  readonly receiveLsn: string | null;
  /** A replica's last replayed WAL location; null on a primary. */
  readonly replayLsn: string | null;
  /** Replay stopped by hand (`pg_wal_replay_pause()`), so lag will grow. False on a primary. */
  readonly replayPaused: boolean;
  /** Seconds since the last replayed transaction, 0 when caught up; null on a primary. */
  readonly lagSeconds: number | null;
}

/** Anything that runs a query: a `pg.Client`, a pool client. */
export interface Queryable {
  query<R extends Record<string, unknown>>(sql: string): Promise<{ rows: R[] }>;
}

interface ReadingRow extends Record<string, unknown> {
  recovery: boolean;
  timeline: number | null;
  current_lsn: string | null;
  receive_lsn: string | null;
  replay_lsn: string | null;
  replay_paused: boolean | null;
  lag_seconds: number | null;
}

/**
 * Observes a node over a connection the caller holds (and times out): role, timeline and WAL positions in one
 * round trip. Query failures throw (the caller decides what a failed look means).
 *
 * @example
 * const reading = await observeNode(client);
 * if (!reading.recovery) console.log(`primary on timeline ${reading.timeline} at ${reading.currentLsn}`);
 */
export async function observeNode(client: Queryable): Promise<NodeReading> {
  const { rows } = await client.query<ReadingRow>(OBSERVE_SQL);
  const row = rows[0] as ReadingRow;
  return {
    recovery: row.recovery,
    timeline: row.timeline,
    currentLsn: row.current_lsn,
    receiveLsn: row.receive_lsn,
    replayLsn: row.replay_lsn,
    replayPaused: row.replay_paused === true,
    lagSeconds: row.lag_seconds,
  };
}

/** `pg_is_in_recovery()` over a held connection: the proxy's fast promotion check. */
export async function readRecovery(client: Queryable): Promise<boolean> {
  const { rows } = await client.query<{ recovery: boolean }>(RECOVERY_SQL);
  // A missing row cannot happen; if it did, "in recovery" is the answer that sends no writes anywhere.
  return rows[0]?.recovery !== false;
}
