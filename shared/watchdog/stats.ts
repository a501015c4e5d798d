/**
 * The connection stats of one node, read with one query per check on a one-off session.
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { formatDuration } from '../config/index.ts';
import { pgErrorCode, withConnection } from '../db/index.ts';
import { describeError } from '../redact/index.ts';

export interface TopEntry {
  name: string;
  count: number;
}

/** What one node's `pg_stat_activity` and settings say (client backends of all databases, the watchdog excluded). */
export interface ConnectionStats {
  total: number;
  active: number;
  idle: number;
  idleInTransaction: number;
  idleInTransactionAborted: number;
  /** Connections whose backend started longer ago than `staleAge` (0 when no `staleAge` is set). */
  stale: number;
  /** Age of the oldest open transaction, in seconds (0 when none is open). */
  longestTransactionSeconds: number;
  maxConnections: number;
  /** `superuser_reserved_connections`. */
  superuserReservedConnections: number;
  /** `reserved_connections` (PostgreSQL 16+, for `pg_use_reserved_connections` members); 0 before 16. */
  roleReservedConnections: number;
  /** Both kinds of reserved slots: `maxConnections − usableConnections`. */
  reservedConnections: number;
  /** What ordinary roles can use: `max_connections − superuser_reserved_connections − reserved_connections`. */
  usableConnections: number;
  /** `total` as a percent of `usableConnections`, one decimal. */
  saturationPercent: number;
  /** The five applications (`application_name`, `(none)` when empty) with the most connections. */
  topApplications: TopEntry[];
  /** The five roles with the most connections. */
  topUsers: TopEntry[];
}

/**
 * One statement, so a check costs one round trip. `reserved_connections` is read with `missing_ok` so servers
 * older than 16 (where it does not exist) answer NULL instead of failing. Roles without `pg_read_all_stats`
 * see other roles' sessions without their state: grant it to the watchdog's role.
 */
export const CONNECTION_STATS_SQL = `
with activity as (
  select state, backend_start, xact_start, application_name, usename
  from pg_catalog.pg_stat_activity
  where backend_type = 'client backend' and pid <> pg_catalog.pg_backend_pid()
)
select
  count(*)::int as total,
  count(*) filter (where state = 'active')::int as active,
  count(*) filter (where state = 'idle')::int as idle,
  count(*) filter (where state = 'idle in transaction')::int as idle_in_transaction,
  count(*) filter (where state = 'idle in transaction (aborted)')::int as idle_in_transaction_aborted,
  count(*) filter (where $1::float8 > 0 and backend_start < now() - $1::float8 * interval '1 millisecond')::int as stale,
  coalesce(extract(epoch from max(now() - xact_start)), 0)::float8 as longest_transaction_seconds,
  pg_catalog.current_setting('max_connections')::int as max_connections,
  pg_catalog.current_setting('superuser_reserved_connections')::int as superuser_reserved_connections,
  coalesce(nullif(pg_catalog.current_setting('reserved_connections', true), '')::int, 0) as reserved_connections,
  (select coalesce(json_agg(t), '[]') from (
     select coalesce(nullif(application_name, ''), '(none)') as name, count(*)::int as count
     from activity group by 1 order by 2 desc, 1 limit 5) t) as top_applications,
  (select coalesce(json_agg(t), '[]') from (
     select coalesce(usename::text, '(none)') as name, count(*)::int as count
     from activity group by 1 order by 2 desc, 1 limit 5) t) as top_users
from activity`;

interface StatsRow {
  total: number;
  active: number;
  idle: number;
  idle_in_transaction: number;
  idle_in_transaction_aborted: number;
  stale: number;
  longest_transaction_seconds: number;
  max_connections: number;
  superuser_reserved_connections: number;
  reserved_connections: number;
  top_applications: TopEntry[];
  top_users: TopEntry[];
}

/** `total` as a percent of `usable`, one decimal (the `saturationPercent` of ConnectionStats). */
export function saturationPercentOf(total: number, usable: number): number {
  // A server with every slot reserved has no usable one: call that full rather than divide by zero.
  return usable > 0 ? Math.round((total / usable) * 1000) / 10 : 100;
}

/** Runs the stats query on an open session. `staleAgeMs` undefined or 0: nothing counts as stale. */
export async function readConnectionStats(client: pg.Client, staleAgeMs?: number): Promise<ConnectionStats> {
  const { rows } = await client.query<StatsRow>(CONNECTION_STATS_SQL, [staleAgeMs ?? 0]);
  const row = rows[0];
  if (!row) throw new Error('the connection stats query returned no row');
  const reserved = row.superuser_reserved_connections + row.reserved_connections;
  const usable = row.max_connections - reserved;
  return {
    total: row.total,
    active: row.active,
    idle: row.idle,
    idleInTransaction: row.idle_in_transaction,
    idleInTransactionAborted: row.idle_in_transaction_aborted,
    stale: row.stale,
    longestTransactionSeconds: Math.round(row.longest_transaction_seconds * 1000) / 1000,
    maxConnections: row.max_connections,
    superuserReservedConnections: row.superuser_reserved_connections,
    roleReservedConnections: row.reserved_connections,
    reservedConnections: reserved,
    usableConnections: usable,
    saturationPercent: saturationPercentOf(row.total, usable),
    topApplications: row.top_applications,
    topUsers: row.top_users,
  };
}

/** How a check of one node ended. Expected failures are values (STYLE.md rule 10). */
export type NodeCheckOutcome =
  | { kind: 'ok'; stats: ConnectionStats; durationMs: number }
  | {
      /** `too_many_clients`: the server refused the session with 53300; `connect_failure`: no session at all;
       * `stats_query_failure`: connected, but the stats query failed. */
      kind: 'too_many_clients' | 'connect_failure' | 'stats_query_failure';
      /** A one-line, secret-free description. */
      error: string;
      /** SQLSTATE or errno code, when there is one. */
      code: string | undefined;
      durationMs: number;
    };

export interface CheckNodeOptions {
  connectTimeoutMs: number;
  /** Server-side statement timeout of the stats query (the client gives up shortly after). */
  queryTimeoutMs: number;
  staleAgeMs?: number;
  applicationName?: string;
}

/**
 * Connects to one node (bounded by the connect timeout), reads its stats, disconnects. Never throws for what a
 * node can do wrong: refused, timed out, 53300, a failing query all come back as an outcome.
 *
 * @example const outcome = await checkNode(url, { connectTimeoutMs: 5000, queryTimeoutMs: 5000 });
 */
export async function checkNode(url: string, options: CheckNodeOptions): Promise<NodeCheckOutcome> {
  const started = performance.now();
  let connected = false;
  try {
    const stats = await withConnection(
      url,
      {
        connectTimeoutMs: options.connectTimeoutMs,
        statementTimeoutMs: options.queryTimeoutMs,
        // The server's statement_timeout answers first with a clean 57014; this only catches a peer gone silent.
        queryTimeoutMs: options.queryTimeoutMs + 1000,
        applicationName: options.applicationName ?? 'pgwarden-watchdog',
      },
      async (client) => {
        connected = true;
        return readConnectionStats(client, options.staleAgeMs);
      },
    );
    return { kind: 'ok', stats, durationMs: performance.now() - started };
  } catch (error) {
    const code = pgErrorCode(error);
    const kind = connected ? 'stats_query_failure' : code === '53300' ? 'too_many_clients' : 'connect_failure';
    let description = describeError(error);
    // pg says only "timeout expired" when a peer accepts TCP and never answers: say which limit ran out.
    if (kind === 'connect_failure' && code === undefined && /timeout/i.test(description)) {
      description = `no answer within the connect timeout of ${formatDuration(options.connectTimeoutMs)} (${description})`;
    }
    return { kind, error: description, code, durationMs: performance.now() - started };
  }
}
