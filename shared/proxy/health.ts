/**
 * Health checks: one persistent monitoring connection per node (reconnected after any failure), one query per
 * check that tells role, timeline and WAL position.
 */
import pg from 'pg';
import { endQuietly } from '../db/index.ts';
import type { Logger } from '../log/index.ts';
import { readRecovery, TIMELINE_SQL } from '../nodes/index.ts';
import { describeError } from '../redact/index.ts';
import { parseLsn } from './router.ts';

/** What one check of one node saw. */
export interface NodeHealth {
  readonly ok: boolean;
  readonly recovery: boolean | null;
  readonly timeline: number | null;
  readonly lsn: bigint | null;
  readonly receiveLsn: bigint | null;
  readonly latencyMs: number;
  readonly error: string | null;
}

/** Role, timeline (read as every observer reads it: shared/nodes) and WAL position, in one round trip. */
const CHECK_SQL = `select pg_is_in_recovery() as recovery,
  ${TIMELINE_SQL} as timeline,
  case when pg_is_in_recovery() then pg_last_wal_replay_lsn()::text else pg_current_wal_lsn()::text end as lsn,
  case when pg_is_in_recovery() then pg_last_wal_receive_lsn()::text end as receive_lsn`;

interface CheckRow {
  recovery: boolean;
  timeline: number | null;
  lsn: string | null;
  receive_lsn: string | null;
}

export interface NodeMonitorOptions {
  readonly name: string;
  /** The node URL with the monitoring user's credentials. */
  readonly url: string;
  /** Connect + query budget of one check. */
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** Called when the monitoring connection breaks between checks (e.g. the server shuts down). */
  readonly onConnectionLost?: () => void;
}

export interface NodeMonitor {
  check(): Promise<NodeHealth>;
  /**
   * The cheap promotion check on the same kept connection: `pg_is_in_recovery()`, null when it failed (the
   * connection is then dropped, as after a failed check). Runs 10 times a second per replica, so one round trip.
   */
  checkRecovery(): Promise<boolean | null>;
  close(): Promise<void>;
}

/** A monitor for one node; `check()` never throws, it reports `ok: false` with the error. */
export function createNodeMonitor(options: NodeMonitorOptions): NodeMonitor {
  let client: pg.Client | null = null;
  let closed = false;

  /** Forgets the connection and cuts it at once: a hung server must not hold the next check (pg's end() waits for it). */
  const drop = () => {
    const old = client;
    client = null;
    if (old) void endQuietly(old, 0);
  };

  const connect = async (): Promise<pg.Client> => {
    const fresh = new pg.Client({
      connectionString: options.url,
      connectionTimeoutMillis: options.timeoutMs,
      application_name: 'pgwarden-proxy',
      keepAlive: true,
    });
    const lost = () => {
      if (client !== fresh) return;
      drop();
      if (!closed) options.onConnectionLost?.();
    };
    fresh.on('error', lost);
    fresh.on('end', lost);
    client = fresh;
    await fresh.connect();
    return fresh;
  };

  /** Runs `query` on the kept connection (connecting first if needed) within the check budget. */
  const onConnection = async <T>(query: (connection: pg.Client) => Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`health check timed out after ${options.timeoutMs} ms`)), options.timeoutMs);
    });
    try {
      return await Promise.race([(async () => query(client ?? (await connect())))(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  const check = async (): Promise<NodeHealth> => {
    const started = performance.now();
    try {
      const row = await onConnection(async (active) => (await active.query<CheckRow>(CHECK_SQL)).rows[0] as CheckRow);
      return {
        ok: true,
        recovery: row.recovery,
        timeline: row.timeline,
        lsn: parseLsn(row.lsn),
        receiveLsn: parseLsn(row.receive_lsn),
        latencyMs: performance.now() - started,
        error: null,
      };
    } catch (error) {
      drop();
      return {
        ok: false,
        recovery: null,
        timeline: null,
        lsn: null,
        receiveLsn: null,
        latencyMs: performance.now() - started,
        error: describeError(error),
      };
    }
  };

  const checkRecovery = async (): Promise<boolean | null> => {
    try {
      return await onConnection(readRecovery);
    } catch {
      drop();
      return null;
    }
  };

  return {
    check,
    checkRecovery,
    async close() {
      closed = true;
      drop();
    },
  };
}
