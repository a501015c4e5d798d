import { type AlertEvent, CHANNELS, type Channel, type DeliveryMessage, deliveryMessageSchema } from '../alerts/index.ts';
import { createLimiter, type Limiter, mapWithConcurrency } from '../concurrency/index.ts';
import type { Cluster } from '../db/index.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import type { Notifier, SendOutcome } from '../notifiers/index.ts';
import { describeError, redact } from '../redact/index.ts';
import { noSenderFailure, planAttempt } from './attempt-plan.ts';
import { DeliveryQueueError } from './errors.ts';
import { insertDeliveries, type LockedDelivery, lockDeliveries } from './ledger.ts';
import { type AttemptUpdate, recordAttempts } from './ledger-attempts.ts';
import type { AlertQueue } from './queue.ts';
import { raiseDeliveryDead } from './raise-dead.ts';

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
  /** Another delivery id owns this (event, channel), or the message appears twice in one batch: acknowledged, sent once. */
  | 'duplicate'
  /** Malformed or for another channel's sender: a batch item failure, so SQS moves it to the DLQ. */
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
  /**
   * Every channel alerts are delivered to (config `channels`). A deployed sender holds only its own channel's
   * credentials, so it learns the others here; default: the channels with a notifier.
   */
  channels?: readonly Channel[];
  /** Where `delivery_dead` events go; default: delivered in-process through this same sender. */
  queue?: AlertQueue;
  /**
   * Deliveries recorded per ledger transaction (their sends run concurrently inside it). Default 10: one SQS batch
   * costs four round trips to the control database, not four per message.
   */
  chunkSize?: number;
  /** Chunks in flight at once. Default 1. With more, one chunk sends while another talks to the ledger. */
  concurrency?: number;
  /** Sends in flight at once across all chunks. Default `chunkSize`. */
  maxSends?: number;
}

/**
 * Delivers one batch of queue records: each valid message is sent through its channel's notifier and the outcome
 * recorded on its ledger row (`sent`, `failed` with the next retry, or `dead`).
 *
 * Only records that SQS must act on are batch item failures: malformed bodies and messages for another channel's
 * sender (SQS redrives them to the DLQ after `maxReceiveCount`), and records whose ledger row could not be read or
 * written. A message whose channel has no notifier here is an attempt that failed ("no sender is configured for
 * channel loki"), counted by the retry policy like any other, so the row goes dead after its attempts instead of
 * coming back forever. A *send* failure is not one: it is recorded in the ledger, whose retry policy and sweeper own
 * the retries (exponential backoff, Retry-After, the 5-attempt limit). Failing the record as well would make SQS
 * redeliver it on its visibility timeout, outside that policy, and dead-letter a row the ledger still retries.
 *
 * Idempotent: a row already `sent` is acknowledged without sending; a `dead` row is acknowledged, not sent.
 * The rows of a chunk are locked (`select … order by id for update`, a fixed order so chunks cannot deadlock)
 * for the length of their sends, so two consumers handed the same message at once send it once; a lock dies with
 * its connection, so a crashed consumer leaves nothing stuck. When a row goes `dead`, a `delivery_dead` event is
 * raised on the other configured channels (never for a `delivery_dead` event, so a dead channel cannot loop).
 *
 * @example
 * // functions/send-slack.ts
 * const { batchItemFailures } = await processDeliveryBatch(event.Records, { db, notifiers, channel: 'slack', logger });
 * return { batchItemFailures };
 */
export async function processDeliveryBatch(records: readonly DeliveryRecord[], deps: SenderDeps): Promise<DeliveryBatchResult> {
  const logger = deps.logger ?? silentLogger;
  const results: DeliveryResult[] = new Array(records.length);
  const accepted: Accepted[] = [];
  records.forEach((record, index) => {
    const checked = checkRecord(record, deps);
    if ('rejected' in checked) {
      logger.warn('delivery message rejected', {
        messageId: record.messageId,
        deliveryId: checked.rejected.deliveryId,
        reason: checked.rejected.error,
      });
      results[index] = checked.rejected;
    } else {
      accepted.push({ index, ...checked });
    }
  });

  const chunkSize = Math.max(1, deps.chunkSize ?? 10);
  const chunks: Accepted[][] = [];
  for (let i = 0; i < accepted.length; i += chunkSize) chunks.push(accepted.slice(i, i + chunkSize));
  const limit = createLimiter(Math.max(1, deps.maxSends ?? chunkSize));
  await mapWithConcurrency(chunks, deps.concurrency ?? 1, async (chunk) => {
    const outcomes = await deliverChunk(chunk, deps, limit);
    chunk.forEach((item, i) => {
      results[item.index] = outcomes[i] as DeliveryResult;
    });
    await reportChunk(chunk, outcomes, deps);
  });

  const batchItemFailures = results
    .filter((result) => result.outcome === 'rejected' || result.outcome === 'error')
    .map((result) => ({ itemIdentifier: result.messageId }));
  return { batchItemFailures, results };
}

interface Accepted {
  index: number;
  record: DeliveryRecord;
  message: DeliveryMessage;
  /** Absent when no sender is configured for the channel: the attempt fails without a request. */
  notifier?: Notifier;
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

/** Parses a record and finds its notifier (if any), or says why SQS should dead-letter it. */
function checkRecord(
  record: DeliveryRecord,
  deps: SenderDeps,
): { record: DeliveryRecord; message: DeliveryMessage; notifier?: Notifier } | { rejected: DeliveryResult } {
  const parsed = parseRecord(record);
  if ('error' in parsed) return { rejected: { messageId: record.messageId, outcome: 'rejected', error: redact(parsed.error) } };
  const { message } = parsed;
  const base = { messageId: record.messageId, deliveryId: message.deliveryId, channel: message.channel };
  if (deps.channel && message.channel !== deps.channel) {
    return {
      rejected: { ...base, outcome: 'rejected', error: `message for channel ${message.channel} reached the ${deps.channel} sender` },
    };
  }
  return { record, message, notifier: deps.notifiers[message.channel] };
}

async function safeSend(notifier: Notifier | undefined, channel: Channel, event: AlertEvent): Promise<SendOutcome> {
  if (!notifier) return noSenderFailure(channel);
  try {
    return await notifier.send(event);
  } catch (error) {
    // A notifier reports expected failures as values; anything thrown is unexpected, and retried like a 5xx.
    return { kind: 'retry', error: describeError(error) };
  }
}

/**
 * Sends one chunk inside one ledger transaction: lock the rows, send the ones still to send (concurrently), record
 * every outcome with one update. The transaction is never replayed (its body sent notifications); if it fails,
 * every record of the chunk is an `error` (a batch item failure) and SQS brings it back.
 */
async function deliverChunk(chunk: readonly Accepted[], deps: SenderDeps, limit: Limiter): Promise<DeliveryResult[]> {
  const clock = deps.clock ?? (() => new Date());
  const base = (item: Accepted) => ({
    messageId: item.record.messageId,
    deliveryId: item.message.deliveryId,
    channel: item.message.channel,
  });
  try {
    return await deps.db.runTx(
      async (tx) => {
        const ids = [...new Set(chunk.map((item) => item.message.deliveryId))];
        const rows = await lockDeliveries(tx, ids);
        const missing = chunk.filter((item) => !rows.has(item.message.deliveryId));
        if (missing.length > 0) {
          // A row is missing when the message was queued by hand or the ledger was cleared: recreate it, unless
          // this (event, channel) is tracked under another id already (that row owns the delivery).
          await insertDeliveries(
            tx,
            missing.map((item) => item.message),
            clock(),
          );
          for (const [id, row] of await lockDeliveries(tx, [...new Set(missing.map((item) => item.message.deliveryId))])) rows.set(id, row);
        }

        const results: DeliveryResult[] = new Array(chunk.length);
        const toSend: Array<{ position: number; item: Accepted; row: LockedDelivery }> = [];
        const claimed = new Set<string>();
        chunk.forEach((item, position) => {
          const row = rows.get(item.message.deliveryId);
          // No row: another id owns this (event, channel). A second copy in this batch: the first one sends it.
          if (!row || claimed.has(row.id)) results[position] = { ...base(item), outcome: 'duplicate' };
          else if (row.status === 'sent') results[position] = { ...base(item), outcome: 'already_sent' };
          else if (row.status === 'dead') results[position] = { ...base(item), outcome: 'already_dead' };
          else {
            claimed.add(row.id);
            toSend.push({ position, item, row });
          }
        });
        if (toSend.length === 0) return results;

        const outcomes = await Promise.all(
          toSend.map(({ item }) => limit(() => safeSend(item.notifier, item.message.channel, item.message.event))),
        );
        const now = clock();
        const updates = toSend.map(({ position, item, row }, i): AttemptUpdate => {
          const { update, result } = planAttempt(row, outcomes[i] as SendOutcome, now);
          results[position] = { ...base(item), ...result };
          return update;
        });
        await recordAttempts(tx, updates, now);
        return results;
      },
      // Never replay the transaction: its body sent notifications.
      { retry: false },
    );
  } catch (error) {
    const reason = describeError(error);
    (deps.logger ?? silentLogger).error('deliveries could not be recorded in the ledger', { deliveries: chunk.length, error: reason });
    return chunk.map((item) => ({ ...base(item), outcome: 'error' as const, error: reason }));
  }
}

/** Logs each outcome of a chunk and raises `delivery_dead` for the rows that died (after the commit). */
async function reportChunk(chunk: readonly Accepted[], results: readonly DeliveryResult[], deps: SenderDeps): Promise<void> {
  const logger = deps.logger ?? silentLogger;
  for (const [i, item] of chunk.entries()) {
    const result = results[i] as DeliveryResult;
    const { message } = item;
    const log = logger.child({
      deliveryId: message.deliveryId,
      channel: message.channel,
      rule: message.event.rule,
      cluster: message.event.cluster,
    });
    switch (result.outcome) {
      case 'sent':
        log.info('alert delivered');
        break;
      case 'failed':
        log.warn('alert delivery failed; retry scheduled', { error: result.error, nextRetryAt: result.nextRetryAt });
        break;
      case 'dead':
        log.error('alert delivery is dead', { error: result.error });
        await raiseDeadHere(message, result.error ?? 'unknown error', deps, log);
        break;
      case 'error':
        break;
      default:
        log.info('delivery acknowledged without sending', { outcome: result.outcome });
    }
  }
}

/**
 * Raises `delivery_dead` for a row that died here, on the other configured channels. Without a queue the news is
 * sent in-process, which needs that channel's notifier here, so channels without one are left out.
 */
async function raiseDeadHere(message: DeliveryMessage, lastError: string, deps: SenderDeps, log: Logger): Promise<void> {
  const configured = deps.channels ?? CHANNELS.filter((channel) => deps.notifiers[channel] !== undefined);
  const channels = configured.filter((channel) => deps.queue !== undefined || deps.notifiers[channel] !== undefined);
  const queue: AlertQueue = deps.queue ?? {
    async publish(messages) {
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
    },
  };
  await raiseDeliveryDead(message, lastError, { db: deps.db, queue, channels, clock: deps.clock }, log);
}
