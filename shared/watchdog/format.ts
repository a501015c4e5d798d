/** How a watchdog run reads to people (one line per node) and to scripts (`--json`). */
import type { AlertEvent } from '../alerts/index.ts';
import type { NodeCheck, WatchdogResult } from './run.ts';

function quoted(text: string): string {
  return /[\s="]/.test(text) ? JSON.stringify(text) : text;
}

/**
 * One line per node:
 * `cluster=orders node=orders-0 total=42 active=3 idle=37 idle_in_tx=2 stale=0 max=100 usable=97 (43%)`,
 * or `cluster=orders node=orders-1 error="…"` when it could not be checked.
 */
export function formatCheckLine(check: Pick<NodeCheck, 'cluster' | 'node' | 'stats' | 'error'>): string {
  const head = `cluster=${check.cluster} node=${check.node}`;
  const { stats } = check;
  if (!stats) return `${head} error=${quoted(check.error ?? 'unknown')}`;
  return (
    `${head} total=${stats.total} active=${stats.active} idle=${stats.idle} idle_in_tx=${stats.idleInTransaction} ` +
    `stale=${stats.stale} max=${stats.maxConnections} usable=${stats.usableConnections} (${Math.round(stats.saturationPercent)}%)`
  );
}

/** `critical connections_saturation firing: orders/orders-0: 96% of usable connections in use, …` */
export function formatEvent(event: AlertEvent): string {
  return `${event.severity} ${event.rule} ${event.status}: ${event.summary}`;
}

export interface WatchdogJson {
  checks: Array<{
    cluster: string;
    node: string;
    stats: {
      total: number;
      active: number;
      idle: number;
      idleInTransaction: number;
      idleInTransactionAborted: number;
      stale: number;
      longestTransactionSeconds: number;
      maxConnections: number;
      reservedConnections: number;
      usableConnections: number;
    } | null;
    error: string | null;
    events: Array<{
      rule: string;
      severity: string;
      status: string;
      cluster: string;
      node: string | null;
      value: number | null;
      threshold: number | null;
      summary: string;
    }>;
  }>;
}

/** The `--json` document (issue 3): exactly these keys, in this order. */
export function toWatchdogJson(result: Pick<WatchdogResult, 'checks'>): WatchdogJson {
  return {
    checks: result.checks.map((check) => ({
      cluster: check.cluster,
      node: check.node,
      stats: check.stats
        ? {
            total: check.stats.total,
            active: check.stats.active,
            idle: check.stats.idle,
            idleInTransaction: check.stats.idleInTransaction,
            idleInTransactionAborted: check.stats.idleInTransactionAborted,
            stale: check.stats.stale,
            longestTransactionSeconds: check.stats.longestTransactionSeconds,
            maxConnections: check.stats.maxConnections,
            reservedConnections: check.stats.reservedConnections,
            usableConnections: check.stats.usableConnections,
          }
        : null,
      error: check.error,
      events: check.events.map((event) => ({
        rule: event.rule,
        severity: event.severity,
        status: event.status,
        cluster: event.cluster,
        node: event.node ?? null,
        value: event.value ?? null,
        threshold: event.threshold ?? null,
        summary: event.summary,
      })),
    })),
  };
}
