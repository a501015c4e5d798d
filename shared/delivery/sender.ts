import { type AlertEvent, CHANNELS, type Channel, createAlertEvent, type DeliveryMessage, deliveryMessageSchema } from '../alerts/index.ts';
import type { Cluster, TxClient } from '../db/types.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import type { Notifier, SendOutcome } from '../notifiers/index.ts';
import { describeError, redact } from '../redact/index.ts';
import { DeliveryQueueError } from './errors.ts';
import { insertPendingDeliveries, type LedgerRow, ledgerQuery } from './ledger.ts';
import type { AlertQueue } from './queue.ts';
import { planFailure } from './retry-policy.ts';

/** One queue record as the sender sees it (what an SQS event's `Records[i]` carries). */
export interface DeliveryRecord {
  messageId: string;
  body: string;
}

export type DeliveryOutcome =
  /** Delivered now. */
  | 'sent'
  /** Not delivered; the ledger schedules a retry. */
  | 'failed'
  /** Not delivered, given up (permanent failure or attempts exhausted); a `delivery_dead` event was raised. */
  | 'dead'
  /** The row was `sent` already (a redelivered message): acknowledged, not sent again. */
  | 'already_sent'
  /** The row is `dead`: acknowledged, not sent (only `pgwarden requeue` revives it). */
  | 'already_dead'
  /** The (event, channel) is tracked under another delivery id, which owns its delivery: acknowledged. */
  | 'duplicate'
  /** Malformed or for the wrong channel: a batch item failure, so SQS moves it to the DLQ. */
  | 'rejected'
  /** The ledger could not be read or written: a batch item failure, so SQS redelivers it. */
  | 'error';

export interface DeliveryResult {
  messageId: string;
  outcome: DeliveryOutcome;
  deliveryId?: string;
  channel?: Channel;
  /** Why it was not sent (secret-free). */
  error?: string;
  /** For `failed`: when the sweeper will publish it again. */
  nextRetryAt?: string;
}

export interface DeliveryBatchResult {
  /** The SQS partial batch response: only records SQS must retry or dead-letter. */
  batchItemFailures: Array<{ itemIdentifier: string }>;
  results: DeliveryResult[];
}

export interface SenderDeps {
  /** The control database holding `pgwarden.deliveries`. */
  db: Cluster;
  /** Every configured notifier (as `createNotifiers` returns them): a message's channel sends it; the others get `delivery_dead`. */
  notifiers: Partial<Record<Channel, Notifier>>;
  /**
   * The channel this sender serves (a queue per channel). Messages for another channel are rejected.
   * Omit it when one consumer serves every channel (the direct queue, a single shared queue).
   */
  channel?: Channel;
  logger?: Logger;
  clock?: () => Date;
  /** Where `delivery_dead` events go; default: delivered in-process through this same sender. */
  queue?: AlertQueue;
  /** Records handled at once. Default 10 (one SQS batch). */
  concurrency?: number;
}

/**
 * Delivers one batch of queue records: each valid message is sent through its channel's notifier and the outcome
 * recorded on its ledger row (`sent`, `failed` with the next retry, or `dead`).
 *
 * Only records that SQS must act on are batch item failures: malformed bodies and messages for an unknown or
 * wrong channel (SQS redrives them to the DLQ after `maxReceiveCount`), and records whose ledger row could not be
 * read or written. A *send* failure is not one: it is recorded in the ledger, whose retry policy and sweeper own
 * the retries (exponential backoff, Retry-After, the 5-attempt limit). Failing the record as well would make SQS
 * redeliver it on its visibility timeout, outside that policy, and dead-letter a row the ledger still retries.
 *
 * Idempotent: a row already `sent` is acknowledged without sending; a `dead` row is acknowledged, not sent.
 * Each row is locked (`select … for update`) for the length of its send, so two consumers handed the same message
 * at once send it once. When a row goes `dead`, a `delivery_dead` event is raised on the other configured
 * channels (never for a `delivery_dead` event, so a dead channel cannot loop).
 *
 * @example
 * // functions/send-slack.ts
 * const { batchItemFailures } = await processDeliveryBatch(event.Records, { db, notifiers, channel: 'slack', logger });
 * return { batchItemFailures };
 */
export async function processDeliveryBatch(records: readonly DeliveryRecord[], deps: SenderDeps): Promise<DeliveryBatchResult> {
  const results: DeliveryResult[] = new Array(records.length);
  const concurrency = Math.max(1, deps.concurrency ?? 10);
  let next = 0;
  const worker = async () => {
    while (next < records.length) {
      const index = next++;
      results[index] = await deliverRecord(records[index] as DeliveryRecord, deps);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, records.length) }, worker));
  const batchItemFailures = results
    .filter((result) => result.outcome === 'rejected' || result.outcome === 'error')
    .map((result) => ({ itemIdentifier: result.messageId }));
  return { batchItemFailures, results };
}

function parseRecord(record: DeliveryRecord): { message: DeliveryMessage } | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(record.body);
  } catch (error) {
    return { error: `malformed message: body is not JSON (${(error as Error).message})` };
  }
  const parsed = deliveryMessageSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    return { error: `malformed message: ${issues.join('; ')}` };
  }
  return { message: parsed.data };
}

async function safeSend(notifier: Notifier, event: AlertEvent): Promise<SendOutcome> {
  try {
    return await notifier.send(event);
  } catch (error) {
    // A notifier reports expected failures as values; anything thrown is unexpected, and retried like a 5xx.
    return { kind: 'retry', error: describeError(error) };
  }
}

async function deliverRecord(record: DeliveryRecord, deps: SenderDeps): Promise<DeliveryResult> {
  const logger = deps.logger ?? silentLogger;
  const clock = deps.clock ?? (() => new Date());
  const parsed = parseRecord(record);
  if ('error' in parsed) {
    logger.warn('delivery message rejected', { messageId: record.messageId, reason: parsed.error });
    return { messageId: record.messageId, outcome: 'rejected', error: redact(parsed.error) };
  }
  const { message } = parsed;
  const base = { messageId: record.messageId, deliveryId: message.deliveryId, channel: message.channel };
  const log = logger.child({
    deliveryId: message.deliveryId,
    channel: message.channel,
    rule: message.event.rule,
    cluster: message.event.cluster,
  });
  if (deps.channel && message.channel !== deps.channel) {
    const error = `message for channel ${message.channel} reached the ${deps.channel} sender`;
    log.warn('delivery message rejected', { reason: error });
    return { ...base, outcome: 'rejected', error };
  }
  const notifier = deps.notifiers[message.channel];
  if (!notifier) {
    const error = `no ${message.channel} notifier is configured`;
    log.warn('delivery message rejected', { reason: error });
    return { ...base, outcome: 'rejected', error };
  }

  let result: DeliveryResult;
  try {
    result = await deps.db.runTx(
      async (tx) => {
        let row = await lockRow(tx, message.deliveryId);
        if (!row) {
          // The row is missing when the message was queued by hand or the ledger was cleared: recreate it, unless
          // this (event, channel) is tracked under another id already (that row owns the delivery).
          await ledgerQuery(
            tx,
            `insert into pgwarden.deliveries (id, event_id, channel, status, retry_count, rule, cluster, event, created_at, updated_at)
             values ($1, $2, $3, 'pending', 0, $4, $5, $6, $7, $7) on conflict do nothing`,
            [message.deliveryId, message.event.id, message.channel, message.event.rule, message.event.cluster, message.event, clock()],
          );
          row = await lockRow(tx, message.deliveryId);
        }
        if (!row) return { ...base, outcome: 'duplicate' as const };
        if (row.status === 'sent') return { ...base, outcome: 'already_sent' as const };
        if (row.status === 'dead') return { ...base, outcome: 'already_dead' as const };

        const outcome = await safeSend(notifier, message.event);
        const now = clock();
        if (outcome.kind === 'sent') {
          await tx.query(
            `update pgwarden.deliveries
                set status = 'sent', sent_at = $2, updated_at = $2, next_retry_at = null, last_error = null
              where id = $1`,
            [message.deliveryId, now],
          );
          return { ...base, outcome: 'sent' as const };
        }
        const plan = planFailure(
          row.retry_count,
          {
            kind: outcome.kind,
            error: outcome.error,
            status: outcome.status,
            retryAfterMs: outcome.kind === 'retry' ? outcome.retryAfterMs : undefined,
          },
          now,
        );
        await tx.query(
          `update pgwarden.deliveries
              set status = $2, retry_count = $3, next_retry_at = $4, last_error = $5, updated_at = $6
            where id = $1`,
          [message.deliveryId, plan.status, plan.retryCount, plan.nextRetryAt, plan.lastError, now],
        );
        return plan.status === 'dead'
          ? { ...base, outcome: 'dead' as const, error: plan.lastError }
          : { ...base, outcome: 'failed' as const, error: plan.lastError, nextRetryAt: plan.nextRetryAt.toISOString() };
      },
      // Never replay the transaction: its body sent a notification.
      { retry: false },
    );
  } catch (error) {
    const reason = describeError(error);
    log.error('delivery could not be recorded in the ledger', { error: reason });
    return { ...base, outcome: 'error', error: reason };
  }

  switch (result.outcome) {
    case 'sent':
      log.info('alert delivered');
      break;
    case 'failed':
      log.warn('alert delivery failed; retry scheduled', { error: result.error, nextRetryAt: result.nextRetryAt });
      break;
    case 'dead':
      log.error('alert delivery is dead', { error: result.error });
      await raiseDeliveryDead(message, result.error ?? 'unknown error', deps, log);
      break;
    default:
      log.info('delivery acknowledged without sending', { outcome: result.outcome });
  }
  return result;
}

async function lockRow(tx: TxClient, id: string): Promise<Pick<LedgerRow, 'status' | 'retry_count'> | undefined> {
  const { rows } = await ledgerQuery<Pick<LedgerRow, 'status' | 'retry_count'>>(
    tx,
    'select status, retry_count from pgwarden.deliveries where id = $1 for update',
    [id],
  );
  return rows[0];
}

/**
 * Tells the other channels that `message` will not arrive: a `delivery_dead` event, recorded in the ledger like any
 * alert. Failures here are logged, not thrown: the dead row itself is already recorded and visible.
 */
async function raiseDeliveryDead(message: DeliveryMessage, lastError: string, deps: SenderDeps, log: Logger): Promise<void> {
  if (message.event.rule === 'delivery_dead') return;
  const channels = CHANNELS.filter((channel) => channel !== message.channel && deps.notifiers[channel] !== undefined);
  if (channels.length === 0) {
    log.warn('no other channel is configured to report the dead delivery');
    return;
  }
  const clock = deps.clock ?? (() => new Date());
  const { event } = message;
  try {
    const deadEvent = createAlertEvent(
      {
        rule: 'delivery_dead',
        severity: event.severity === 'critical' ? 'critical' : 'warning',
        status: 'firing',
        cluster: event.cluster,
        database: event.database,
        node: event.node,
        namespace: event.namespace,
        client: 'delivery',
        summary: `${message.channel} delivery of "${event.summary}" is dead: ${lastError}`,
        labels: { deliveryId: message.deliveryId, channel: message.channel, eventId: event.id, eventRule: event.rule },
      },
      clock,
    );
    const messages = await insertPendingDeliveries(deps.db, [deadEvent], channels, clock());
    if (deps.queue) {
      await deps.queue.publish(messages);
    } else {
      const { batchItemFailures } = await processDeliveryBatch(
        messages.map((m) => ({ messageId: m.deliveryId, body: JSON.stringify(m) })),
        { ...deps, channel: undefined },
      );
      if (batchItemFailures.length > 0) {
        throw new DeliveryQueueError(
          'delivery_dead could not be delivered',
          batchItemFailures.map((f) => f.itemIdentifier),
        );
      }
    }
    log.info('delivery_dead raised', { channels: channels.join(',') });
  } catch (error) {
    log.error('delivery_dead could not be raised', { error: describeError(error) });
  }
}
