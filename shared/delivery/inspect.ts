import type { Cluster } from '../db/index.ts';
import { DeliveryUsageError } from './errors.ts';
import { countByStatus, findDelivery, isDeliveryId, type LedgerRow, listDeliveryRows } from './ledger.ts';
import { type DeliveryAttempt, listAttempts } from './ledger-attempts.ts';
import { DELIVERY_STATUSES, type DeliveryStatus } from './migrations.ts';

/** One ledger row as an operator reads it (`pgwarden deliveries`). */
export interface DeliverySummary {
  id: string;
  eventId: string;
  channel: string;
  status: DeliveryStatus;
  retryCount: number;
  /** ISO 8601, or null when no retry is scheduled. */
  nextRetryAt: string | null;
  lastError: string | null;
  rule: string;
  cluster: string;
  createdAt: string;
  updatedAt: string;
  sentAt: string | null;
}

export interface ListDeliveriesOptions {
  db: Cluster;
  status?: DeliveryStatus;
  /** Most rows returned, newest first. Default 1000. */
  limit?: number;
}

/**
 * Ledger rows, newest first, optionally of one status.
 *
 * @example const dead = await listDeliveries({ db, status: 'dead' });
 */
export async function listDeliveries(options: ListDeliveriesOptions): Promise<DeliverySummary[]> {
  if (options.status !== undefined && !DELIVERY_STATUSES.includes(options.status)) {
    throw new DeliveryUsageError('status', `"${options.status}" is not a delivery status (one of ${DELIVERY_STATUSES.join(', ')})`);
  }
  const limit = options.limit ?? 1000;
  const rows = await listDeliveryRows(options.db, options.status ?? null, limit);
  return rows.map(toSummary);
}

/** One delivery with every attempt made at it, oldest first (`pgwarden deliveries --id`). */
export interface DeliveryDetail extends DeliverySummary {
  attempts: DeliveryAttempt[];
}

/**
 * One delivery and its attempt history, or `undefined` when there is no such delivery. Throws
 * `DeliveryUsageError` for an id that is not a UUID.
 *
 * @example const detail = await getDelivery({ db, id }); // detail?.attempts[0] → { attempt: 1, outcome: 'failed', … }
 */
export async function getDelivery(options: { db: Cluster; id: string }): Promise<DeliveryDetail | undefined> {
  const id = options.id.trim().toLowerCase();
  if (!isDeliveryId(id))
    throw new DeliveryUsageError('id', `"${options.id}" is not a delivery id (a UUID, as \`pgwarden deliveries\` lists)`);
  const row = await findDelivery(options.db, id);
  if (!row) return undefined;
  return { ...toSummary(row), attempts: await listAttempts(options.db, id) };
}

function toSummary(row: Omit<LedgerRow, 'event'>): DeliverySummary {
  return {
    id: row.id,
    eventId: row.event_id,
    channel: row.channel,
    status: row.status,
    retryCount: row.retry_count,
    nextRetryAt: row.next_retry_at ? row.next_retry_at.toISOString() : null,
    lastError: row.last_error,
    rule: row.rule,
    cluster: row.cluster,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    sentAt: row.sent_at ? row.sent_at.toISOString() : null,
  };
}

/** How many deliveries are in each status (every status present, 0 when none): for metrics and the CLI summary. */
export async function countDeliveriesByStatus(db: Cluster): Promise<Record<DeliveryStatus, number>> {
  const present = await countByStatus(db);
  return Object.fromEntries(DELIVERY_STATUSES.map((status) => [status, present.get(status) ?? 0])) as Record<DeliveryStatus, number>;
}
