/** How a watchdog run reads to people (one line per node) and to scripts (`--json`). */
import type { AlertEvent } from '../alerts/index.ts';
import type { WatchdogResult } from './result.ts';
import { type ConnectionStats, saturationPercentOf } from './stats.ts';

/** The stats of a node in the `--json` document, in this order. */
const JSON_STATS_KEYS = [
  'total',
  'active',
  'idle',
  'idleInTransaction',
  'idleInTransactionAborted',
  'stale',
  'longestTransactionSeconds',
  'maxConnections',
  'reservedConnections',
  'usableConnections',
] as const satisfies ReadonlyArray<keyof ConnectionStats>;

export type WatchdogJsonStats = Pick<ConnectionStats, (typeof JSON_STATS_KEYS)[number]>;

export interface WatchdogJsonCheck {
  cluster: string;
  node: string;
  stats: WatchdogJsonStats | null;
  error: string | null;
  events: Array<
    Pick<AlertEvent, 'rule' | 'severity' | 'status' | 'cluster' | 'summary'> & {
      node: string | null;
      value: number | null;
      threshold: number | null;
    }
  >;
}

export interface WatchdogJson {
  checks: WatchdogJsonCheck[];
  /** What went wrong outside the nodes (the alert state, publishing), one secret-free line each; empty when nothing. */
  problems: string[];
}

function quoted(text: string): string {
  return /[\s="]/.test(text) ? JSON.stringify(text) : text;
}

/**
 * One line per node:
 * `cluster=orders node=orders-0 total=42 active=3 idle=37 idle_in_tx=2 stale=0 max=100 usable=97 (43%)`,
 * or `cluster=orders node=orders-1 error="…"` when it could not be checked. Takes a run's check or a check of
 * the `--json` document (what the Lambda handler returns) alike.
 */
export function formatCheckLine(check: Pick<WatchdogJsonCheck, 'cluster' | 'node' | 'stats' | 'error'>): string {
  const head = `cluster=${check.cluster} node=${check.node}`;
  const { stats } = check;
  if (!stats) return `${head} error=${quoted(check.error ?? 'unknown')}`;
  const percent = Math.round(saturationPercentOf(stats.total, stats.usableConnections));
  return (
    `${head} total=${stats.total} active=${stats.active} idle=${stats.idle} idle_in_tx=${stats.idleInTransaction} ` +
    `stale=${stats.stale} max=${stats.maxConnections} usable=${stats.usableConnections} (${percent}%)`
  );
}

function jsonStats(stats: WatchdogJsonStats): WatchdogJsonStats {
  return Object.fromEntries(JSON_STATS_KEYS.map((key) => [key, stats[key]])) as WatchdogJsonStats;
}

/** The `--json` document (issue 3; `problems` since issue 13): exactly these keys, in this order. */
export function toWatchdogJson(result: Pick<WatchdogResult, 'checks' | 'problems'>): WatchdogJson {
  return {
    checks: result.checks.map((check) => ({
      cluster: check.cluster,
      node: check.node,
      stats: check.stats && jsonStats(check.stats),
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
    problems: [...result.problems],
  };
}
