import { randomUUID } from 'node:crypto';
import { z } from 'zod';

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const STATUSES = ['firing', 'resolved'] as const;
export type AlertStatus = (typeof STATUSES)[number];

/** Every rule pgwarden can raise (ARCHITECTURE.md, "Names"). */
export const RULES = [
  'connections_total',
  'connections_active',
  'connections_idle',
  'connections_idle_in_transaction',
  'connections_stale',
  'connections_saturation',
  'too_many_clients',
  'connect_failure',
  'stats_query_failure',
  'topology_changed',
  'multiple_primaries',
  'no_primary',
  'node_down',
  'replica_lag',
  'endpoints_drift',
  'test',
  'delivery_dead',
] as const;
export type AlertRule = (typeof RULES)[number];

export const CHANNELS = ['slack', 'loki'] as const;
export type Channel = (typeof CHANNELS)[number];

const labelsSchema = z.record(z.string(), z.string());

/** One alert event, as published, queued, stored in the ledger and rendered by the notifiers. */
export const alertEventSchema = z.strictObject({
  id: z.uuid(),
  rule: z.enum(RULES),
  severity: z.enum(SEVERITIES),
  status: z.enum(STATUSES),
  cluster: z.string().min(1),
  database: z.string().min(1).optional(),
  node: z.string().min(1).optional(),
  namespace: z.string().min(1).optional(),
  /** Which pgwarden component raised it (`watchdog`, `topology`, `delivery`, `proxy`). */
  client: z.string().min(1),
  value: z.number().optional(),
  threshold: z.number().optional(),
  summary: z.string().min(1),
  labels: labelsSchema,
  /** ISO 8601 instant the condition was observed. */
  observedAt: z.iso.datetime({ offset: true }),
});
export type AlertEvent = z.infer<typeof alertEventSchema>;

/** One queue message per (event, channel). Versioned so a future shape can be told apart. */
export const deliveryMessageSchema = z.strictObject({
  v: z.literal(1),
  deliveryId: z.uuid(),
  channel: z.enum(CHANNELS),
  event: alertEventSchema,
});
export type DeliveryMessage = z.infer<typeof deliveryMessageSchema>;

export type NewAlertEvent = Omit<AlertEvent, 'id' | 'observedAt' | 'labels'> & {
  id?: string;
  observedAt?: Date | string;
  labels?: Record<string, string>;
};

/**
 * Builds a complete event (id, timestamp, labels) from its domain fields.
 *
 * @example createAlertEvent({ rule: 'no_primary', severity: 'critical', status: 'firing', cluster: 'orders',
 *   client: 'topology', summary: 'no node of orders is primary' })
 */
export function createAlertEvent(input: NewAlertEvent, clock: () => Date = () => new Date()): AlertEvent {
  const observedAt = input.observedAt instanceof Date ? input.observedAt.toISOString() : (input.observedAt ?? clock().toISOString());
  return alertEventSchema.parse({ ...input, id: input.id ?? randomUUID(), observedAt, labels: input.labels ?? {} });
}

/** `cluster/database/rule[/node]`: one alert's identity across checks (database `*` when not set). */
export function dedupKey(event: Pick<AlertEvent, 'cluster' | 'database' | 'rule' | 'node'>): string {
  const base = `${event.cluster}/${event.database ?? '*'}/${event.rule}`;
  return event.node ? `${base}/${event.node}` : base;
}
