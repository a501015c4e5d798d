/**
 * Health checks: one persistent monitoring connection per node (reconnected after any failure), one query per
 * check that tells role, timeline and WAL position (shared/nodes' observation, as the topology probe reads it).
 */
import pg from 'pg';
import { endQuietly } from '../db/index.ts';
import type { Logger } from '../log/index.ts';
import { observeNode, readRecovery } from '../nodes/index.ts';
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
      const reading = await onConnection(observeNode);
      return {
        ok: true,
        recovery: reading.recovery,
        timeline: reading.timeline,
        // A primary's current WAL position, a replica's replay position: what the router measures lag between.
        lsn: parseLsn(reading.recovery ? reading.replayLsn : reading.currentLsn),
        receiveLsn: parseLsn(reading.receiveLsn),
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
