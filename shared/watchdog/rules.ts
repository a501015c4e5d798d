/**
 * Threshold rules → alert events. For every rule evaluated on a node, `evaluateNode` returns one event: `firing`
 * when the rule is breached now, `resolved` when it holds fine (what a resolution would say, with the current
 * value). The alert lifecycle decides which of them are sent; rules that could not be evaluated (a node that
 * did not answer has no counts) return nothing, so their alerts are neither fired nor resolved by accident.
 */
import { type AlertEvent, type AlertRule, createAlertEvent, type Severity } from '../alerts/index.ts';
import type { WatchdogSettings } from '../config/index.ts';
import { formatDuration } from '../config/index.ts';
import type { ConnectionStats, NodeCheckOutcome } from './stats.ts';

/** Which component raises the watchdog's events (`client` of every event). */
export const WATCHDOG_CLIENT = 'watchdog';

export interface RuleTarget {
  cluster: string;
  node: string;
  /** `host:port` of the node (never its password). */
  address: string;
}

const SEVERITY_BY_LEVEL: readonly Severity[] = ['info', 'warning', 'critical'];

type CountRule = Extract<
  AlertRule,
  'connections_total' | 'connections_active' | 'connections_idle' | 'connections_idle_in_transaction' | 'connections_stale'
>;

const COUNT_RULES: ReadonlyArray<{
  rule: CountRule;
  threshold: keyof WatchdogSettings['thresholds'];
  value: (stats: ConnectionStats) => number;
  what: (settings: WatchdogSettings) => string;
}> = [
  { rule: 'connections_total', threshold: 'total', value: (s) => s.total, what: () => 'connections' },
  { rule: 'connections_active', threshold: 'active', value: (s) => s.active, what: () => 'active connections' },
  { rule: 'connections_idle', threshold: 'idle', value: (s) => s.idle, what: () => 'idle connections' },
  {
    rule: 'connections_idle_in_transaction',
    threshold: 'idleInTransaction',
    value: (s) => s.idleInTransaction,
    what: () => 'connections idle in transaction',
  },
  {
    rule: 'connections_stale',
    threshold: 'stale',
    value: (s) => s.stale,
    what: (settings) => `connections older than ${formatDuration(settings.staleAge ?? 0)}`,
  },
];

/**
 * The saturation level breached: the highest level at or under `percent`, with its severity (the first level is
 * info, the second warning, the third critical), or undefined when under every level.
 */
export function saturationLevel(percent: number, levels: readonly number[]): { level: number; severity: Severity } | undefined {
  let found: { level: number; severity: Severity } | undefined;
  levels.forEach((level, i) => {
    if (percent >= level) found = { level, severity: SEVERITY_BY_LEVEL[Math.min(i, SEVERITY_BY_LEVEL.length - 1)] as Severity };
  });
  return found;
}

/**
 * Every rule that could be evaluated for one node's check, one event each (`firing` or `resolved`).
 * Counts fire when they reach their threshold (0 = off: never fires, resolves what fired before it was off).
 *
 * @example evaluateNode({ cluster: 'orders', node: 'orders-0', address: 'db:5432' }, outcome, settings, clock)
 */
export function evaluateNode(target: RuleTarget, outcome: NodeCheckOutcome, settings: WatchdogSettings, clock: () => Date): AlertEvent[] {
  const where = `${target.cluster}/${target.node}`;
  const observedAt = clock();
  const event = (
    rule: AlertRule,
    breached: boolean,
    severity: Severity,
    fields: { value: number; threshold: number; summary: string; labels?: Record<string, string> },
  ): AlertEvent =>
    createAlertEvent({
      rule,
      severity,
      status: breached ? 'firing' : 'resolved',
      cluster: target.cluster,
      node: target.node,
      client: WATCHDOG_CLIENT,
      value: fields.value,
      threshold: fields.threshold,
      summary: fields.summary,
      labels: { address: target.address, ...fields.labels },
      observedAt,
    });

  const failure = (rule: 'too_many_clients' | 'connect_failure' | 'stats_query_failure', breached: boolean): AlertEvent => {
    const code = outcome.kind === 'ok' ? undefined : outcome.code;
    const labels = breached && code ? { code } : undefined;
    switch (rule) {
      case 'too_many_clients':
        // As saturation: the slots this role may use are 100% taken.
        return event(rule, breached, 'critical', {
          value: breached ? 100 : 0,
          threshold: 100,
          summary: breached
            ? `${where} refuses new connections: ${outcome.kind === 'ok' ? '' : outcome.error}`
            : `${where} accepts new connections again`,
          labels,
        });
      case 'connect_failure':
        return event(rule, breached, 'critical', {
          value: Math.round(outcome.durationMs),
          threshold: settings.connectTimeout,
          summary: breached
            ? `${where} (${target.address}) cannot be reached: ${outcome.kind === 'ok' ? '' : outcome.error}`
            : `${where} (${target.address}) can be reached again`,
          labels,
        });
      case 'stats_query_failure':
        return event(rule, breached, 'warning', {
          value: Math.round(outcome.durationMs),
          threshold: settings.queryTimeout,
          summary: breached
            ? `${where}: the connection stats query failed: ${outcome.kind === 'ok' ? '' : outcome.error}`
            : `${where}: the connection stats query works again`,
          labels,
        });
    }
  };

  switch (outcome.kind) {
    case 'connect_failure':
      // Unreachable: nothing else is known, so nothing else is evaluated.
      return [failure('connect_failure', true)];
    case 'too_many_clients':
      // The server answered, so it is reachable; whether the stats query works is unknown.
      return [failure('too_many_clients', true), failure('connect_failure', false)];
    case 'stats_query_failure':
      return [failure('stats_query_failure', true), failure('too_many_clients', false), failure('connect_failure', false)];
    case 'ok':
      break;
  }

  const { stats } = outcome;
  const events: AlertEvent[] = [];
  for (const spec of COUNT_RULES) {
    const threshold = settings.thresholds[spec.threshold];
    const value = spec.value(stats);
    const breached = threshold > 0 && value >= threshold;
    const what = spec.what(settings);
    events.push(
      event(spec.rule, breached, 'warning', {
        value,
        threshold,
        summary: breached
          ? `${where}: ${value} ${what} (threshold ${threshold})`
          : `${where}: ${value} ${what}, ${threshold > 0 ? `under the threshold of ${threshold}` : 'threshold off'}`,
      }),
    );
  }

  const level = saturationLevel(stats.saturationPercent, settings.levels);
  const usage = `${stats.total} of ${stats.usableConnections} usable (max_connections ${stats.maxConnections}, ${stats.reservedConnections} reserved)`;
  events.push(
    event('connections_saturation', level !== undefined, level?.severity ?? 'info', {
      value: stats.saturationPercent,
      threshold: level?.level ?? (settings.levels[0] as number),
      summary: level
        ? `${where}: ${stats.saturationPercent}% of usable connections in use, ${usage}; level ${level.level}%`
        : `${where}: ${stats.saturationPercent}% of usable connections in use, ${usage}; under ${settings.levels[0]}%`,
      labels: { level: String(level?.level ?? settings.levels[0]) },
    }),
  );
  events.push(failure('stats_query_failure', false), failure('too_many_clients', false), failure('connect_failure', false));
  return events;
}

/**
 * The `test` event of `--force-notification`: one per cluster, about its first node, always sent (it bypasses the
 * lifecycle) so an operator can see that the channels work.
 */
export function createTestEvent(target: RuleTarget, outcome: NodeCheckOutcome, settings: WatchdogSettings, clock: () => Date): AlertEvent {
  const where = `${target.cluster}/${target.node}`;
  const state =
    outcome.kind === 'ok'
      ? `${outcome.stats.total} connections, ${outcome.stats.saturationPercent}% of ${outcome.stats.usableConnections} usable`
      : `not checked (${outcome.kind})`;
  return createAlertEvent({
    rule: 'test',
    severity: 'info',
    status: 'firing',
    cluster: target.cluster,
    node: target.node,
    client: WATCHDOG_CLIENT,
    value: outcome.kind === 'ok' ? outcome.stats.saturationPercent : 0,
    threshold: settings.levels[0] as number,
    summary: `pgwarden test notification from the watchdog: ${where}: ${state}`,
    labels: { address: target.address },
    observedAt: clock(),
  });
}
