/**
 * SQL over `pgwarden.deliveries`, shared by the publisher, sender, sweeper, requeue and inspection.
 * Every timestamp comes from the caller's clock, so tests walk time without sleeping.
 */
import { randomUUID } from 'node:crypto';
import type { AlertEvent, Channel, DeliveryMessage } from '../alerts/index.ts';
import type { QueryResult, QueryResultRow } from '../db/index.ts';
import { pgErrorCode } from '../db/index.ts';
import { describeError } from '../redact/index.ts';
import { DeliveryLedgerMissingError, DeliveryQueueError } from './errors.ts';
import type { DeliveryStatus } from './migrations.ts';
import type { AlertQueue } from './queue.ts';

/** Anything that runs a query: the cluster, or the client of one transaction. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
}

export interface LedgerRow {
  id: string;
  event_id: string;
  channel: Channel;
  status: DeliveryStatus;
  retry_count: number;
  next_retry_at: Date | null;
  last_error: string | null;
  rule: string;
  cluster: string;
  event: AlertEvent;
  created_at: Date;
  updated_at: Date;
  sent_at: Date | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `text` can be a delivery id (a UUID): checked before it reaches a `::uuid` cast, which would throw. */
export function isDeliveryId(text: string): boolean {
  return UUID.test(text);
}

/** Runs `query`, turning "relation does not exist" into an error that says to run the migrations. */
export async function ledgerQuery<R extends QueryResultRow>(db: Queryable, sql: string, params?: unknown[]): Promise<QueryResult<R>> {
  try {
    return await db.query<R>(sql, params);
  } catch (error) {
    // 42P01 undefined_table, 3F000 invalid_schema_name: https://www.postgresql.org/docs/current/errcodes-appendix.html
    const code = pgErrorCode(error);
    if (code === '42P01' || code === '3F000') throw new DeliveryLedgerMissingError({ cause: error });
    throw error;
  }
}

/** The queue message for a ledger row. */
export function toDeliveryMessage(row: Pick<LedgerRow, 'id' | 'channel' | 'event'>): DeliveryMessage {
  return { v: 1, deliveryId: row.id, channel: row.channel, event: row.event };
}

/**
 * Records one `pending` row per (event, channel) and returns the messages to publish, one per row actually
 * created: an (event, channel) already in the ledger is not delivered a second time.
 */
export async function insertPendingDeliveries(
  db: Queryable,
  events: readonly AlertEvent[],
  channels: readonly Channel[],
  now: Date,
): Promise<DeliveryMessage[]> {
  const messages = events.flatMap((event) =>
    channels.map((channel): DeliveryMessage => ({ v: 1, deliveryId: randomUUID(), channel, event })),
  );
  return insertDeliveries(db, messages, now);
}

/**
 * Records a `pending` row for each message (a new one, or one whose row is missing: queued by hand, ledger
 * cleared) and returns the messages whose row it created, in the given order. A message whose id or
 * (event, channel) is in the ledger already creates nothing: that row owns the delivery.
 */
export async function insertDeliveries(db: Queryable, messages: readonly DeliveryMessage[], now: Date): Promise<DeliveryMessage[]> {
  if (messages.length === 0) return [];
  const result = await ledgerQuery<{ id: string }>(
    db,
    `insert into pgwarden.deliveries (id, event_id, channel, status, retry_count, rule, cluster, event, created_at, updated_at)
     select id, event_id, channel, 'pending', 0, rule, cluster, event, $7, $7
       from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
         as t(id, event_id, channel, rule, cluster, event)
     on conflict do nothing
     returning id`,
    [
      messages.map((message) => message.deliveryId),
      messages.map((message) => message.event.id),
      messages.map((message) => message.channel),
      messages.map((message) => message.event.rule),
      messages.map((message) => message.event.cluster),
      messages.map((message) => JSON.stringify(message.event)),
      now,
    ],
  );
  const created = new Set(result.rows.map((row) => row.id));
  return messages.filter((message) => created.has(message.deliveryId));
}

/**
 * Puts rows that were marked `pending` for publishing back to `failed`, due now, when the queue refused them:
 * the sweeper will try again, and nothing is lost. `retry_count` is kept (the notifier was never tried).
 */
async function returnUnpublished(db: Queryable, ids: readonly string[], reason: string, now: Date): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await ledgerQuery(
    db,
    `update pgwarden.deliveries
        set status = 'failed', next_retry_at = $2, last_error = $3, updated_at = $2
      where id = any($1::uuid[]) and status = 'pending'`,
    [ids, now, reason],
  );
  return result.rowCount ?? 0;
}

/** What `publishRecorded` could not queue: the refused ids, how many of their rows went back to `failed`, and why. */
export interface Unpublished {
  failed: readonly string[];
  returned: number;
  error: unknown;
}

/**
 * Publishes the messages of rows already in the ledger (new, swept or requeued). The ids the queue refuses (every
 * one when it fails without naming them) are put back to `failed`, due now, so the sweeper publishes them again and
 * nothing is lost. Resolves to `undefined` once every message is accepted, else to what was not.
 */
export async function publishRecorded(
  db: Queryable,
  queue: AlertQueue,
  messages: readonly DeliveryMessage[],
  clock: () => Date,
): Promise<Unpublished | undefined> {
  try {
    await queue.publish(messages);
    return undefined;
  } catch (error) {
    const failed = error instanceof DeliveryQueueError ? error.failed : messages.map((message) => message.deliveryId);
    const returned = await returnUnpublished(db, failed, `not queued: ${describeError(error)}`, clock());
    return { failed, returned, error };
  }
}

/** The part of a row the sender decides on. */
export type LockedDelivery = Pick<LedgerRow, 'id' | 'status' | 'retry_count'>;

/**
 * Locks the given rows for the rest of the transaction, in id order (a fixed order, so two chunks cannot deadlock),
 * and returns them by id. An id with no row is absent from the map.
 */
export async function lockDeliveries(tx: Queryable, ids: readonly string[]): Promise<Map<string, LockedDelivery>> {
  const { rows } = await ledgerQuery<LockedDelivery>(
    tx,
    'select id, status, retry_count from pgwarden.deliveries where id = any($1::uuid[]) order by id for update',
    [ids],
  );
  return new Map(rows.map((row) => [row.id, row]));
}

/** A row `requeueRows` made pending, with the status it had. */
export type RequeuedRow = Pick<LedgerRow, 'id' | 'channel' | 'event'> & { previous_status: 'dead' | 'failed' };

/**
 * Makes the given `dead` or `failed` rows (and every `dead` one with `allDead`) `pending` with a fresh retry
 * budget. `last_error` is cleared: a pending row has no error yet, and the attempt history keeps the old ones.
 */
export async function requeueRows(tx: Queryable, ids: readonly string[], allDead: boolean, now: Date): Promise<RequeuedRow[]> {
  const { rows } = await ledgerQuery<RequeuedRow>(
    tx,
    `with target as (
       select id, status from pgwarden.deliveries
        where status in ('dead', 'failed') and (id = any($1::uuid[]) or ($2 and status = 'dead'))
        order by created_at
        for update)
     update pgwarden.deliveries d
        set status = 'pending', retry_count = 0, next_retry_at = null, last_error = null, updated_at = $3
       from target
      where d.id = target.id
     returning d.id, d.channel, d.event, target.status as previous_status`,
    [ids, allDead, now],
  );
  return rows;
}

/** The status of each given id that has a row. */
export async function deliveryStatuses(db: Queryable, ids: readonly string[]): Promise<Map<string, DeliveryStatus>> {
  if (ids.length === 0) return new Map();
  const { rows } = await ledgerQuery<{ id: string; status: DeliveryStatus }>(
    db,
    'select id, status from pgwarden.deliveries where id = any($1::uuid[])',
    [ids],
  );
  return new Map(rows.map((row) => [row.id, row.status]));
}

/** The columns an operator reads: every one but the event itself. */
const SUMMARY_COLUMNS =
  'id, event_id, channel, status, retry_count, next_retry_at, last_error, rule, cluster, created_at, updated_at, sent_at';

/** One row by id, without its event (`pgwarden deliveries --id`), or undefined. */
export async function findDelivery(db: Queryable, id: string): Promise<Omit<LedgerRow, 'event'> | undefined> {
  const { rows } = await ledgerQuery<Omit<LedgerRow, 'event'>>(db, `select ${SUMMARY_COLUMNS} from pgwarden.deliveries where id = $1`, [
    id,
  ]);
  return rows[0];
}

/** Up to `limit` rows without their events, newest first, of one status or (`null`) of every status. */
export async function listDeliveryRows(db: Queryable, status: DeliveryStatus | null, limit: number): Promise<Omit<LedgerRow, 'event'>[]> {
  const { rows } = await ledgerQuery<Omit<LedgerRow, 'event'>>(
    db,
    `select ${SUMMARY_COLUMNS}
       from pgwarden.deliveries
      where $1::text is null or status = $1
      order by created_at desc, id
      limit $2`,
    [status, limit],
  );
  return rows;
}

/** How many rows each status present has (a status with no row is absent). */
export async function countByStatus(db: Queryable): Promise<Map<DeliveryStatus, number>> {
  const { rows } = await ledgerQuery<{ status: DeliveryStatus; count: string }>(
    db,
    'select status, count(*) as count from pgwarden.deliveries group by status',
  );
  return new Map(rows.map((row) => [row.status, Number(row.count)]));
}
