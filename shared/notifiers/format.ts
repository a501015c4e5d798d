import type { AlertEvent, AlertRule, Severity } from '../alerts/index.ts';
import { formatBytes } from '../config/index.ts';
import { redact } from '../redact/index.ts';
import { NotifierError } from './errors.ts';

/** What each rule is about, in words a person on call reads first. */
export const RULE_TITLES: Readonly<Record<AlertRule, string>> = {
  connections_total: 'Total connections',
  connections_active: 'Active connections',
  connections_idle: 'Idle connections',
  connections_idle_in_transaction: 'Idle-in-transaction connections',
  connections_stale: 'Stale connections',
  connections_saturation: 'Connection saturation',
  too_many_clients: 'Too many clients',
  connect_failure: 'Connection failure',
  stats_query_failure: 'Stats query failure',
  topology_changed: 'Topology changed',
  multiple_primaries: 'Multiple primaries',
  no_primary: 'No primary',
  node_down: 'Node down',
  replica_lag: 'Replica lag',
  endpoints_drift: 'Endpoints drift',
  test: 'pgwarden test alert',
  delivery_dead: 'Alert delivery failed',
};

const SEVERITY_WORDS: Readonly<Record<Severity, string>> = { info: 'Info', warning: 'Warning', critical: 'Critical' };

/** Where the alert is: `orders` or `orders / pg-1`. */
export function describePlace(event: AlertEvent): string {
  return event.node ? `${event.cluster} / ${event.node}` : event.cluster;
}

/**
 * The title of an alert, the same on every channel: `Critical: Total connections on orders / pg-1`,
 * `Resolved: …` once it clears, and `[TEST] …` in front for test events.
 */
export function describeTitle(event: AlertEvent): string {
  const head = event.status === 'resolved' ? 'Resolved' : SEVERITY_WORDS[event.severity];
  const title = `${head}: ${RULE_TITLES[event.rule]} on ${describePlace(event)}`;
  return redact(event.rule === 'test' ? `[TEST] ${title}` : title);
}

/** A measured number in the unit of its rule: percent for saturation, bytes for replica lag. */
export function formatMeasure(rule: AlertRule, value: number): string {
  if (rule === 'connections_saturation') return `${Number(value.toFixed(1))}%`;
  if (rule === 'replica_lag') return formatBytes(value);
  return String(value);
}

/** `120 (threshold 100)`, `120`, `threshold 100`, or undefined when the event carries neither. */
export function describeValue(event: AlertEvent): string | undefined {
  const value = event.value === undefined ? undefined : formatMeasure(event.rule, event.value);
  const threshold = event.threshold === undefined ? undefined : formatMeasure(event.rule, event.threshold);
  if (value !== undefined && threshold !== undefined) return `${value} (threshold ${threshold})`;
  if (value !== undefined) return value;
  if (threshold !== undefined) return `threshold ${threshold}`;
  return undefined;
}

const ISO_INSTANT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * An ISO 8601 instant as Unix nanoseconds, in a string (Loki rejects numbers, and a double cannot hold
 * nanoseconds past 2^53 anyway). Fractional seconds are kept to the nanosecond.
 *
 * @example toUnixNanos('2026-03-01T12:00:00.123456789Z') // '1772366400123456789'
 */
export function toUnixNanos(iso: string): string {
  const match = ISO_INSTANT.exec(iso);
  const wholeMs = match ? Date.parse(`${match[1]}${match[3] ?? 'Z'}`) : Number.NaN;
  if (!match || Number.isNaN(wholeMs)) throw new NotifierError(`observedAt "${iso}" is not an ISO 8601 instant`);
  const fraction = (match[2] ?? '').padEnd(9, '0').slice(0, 9);
  return (BigInt(wholeMs) * 1_000_000n + BigInt(fraction)).toString();
}

/** One logfmt value: bare when it can be, else double-quoted with `\`, `"` and newlines escaped. */
export function logfmtValue(text: string): string {
  if (text !== '' && !/[\s="\\]/.test(text)) return text;
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}"`;
}
