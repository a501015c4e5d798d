import type { Cluster } from '../db/types.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import { describeError } from '../redact/index.ts';
import { DeliveryUsageError } from './errors.ts';
import { deliveryStatuses, isDeliveryId, publishRecorded, requeueRows, toDeliveryMessage } from './ledger.ts';
import type { DeliveryStatus } from './migrations.ts';
import type { AlertQueue } from './queue.ts';

export interface RequeueOptions {
  db: Cluster;
  queue: AlertQueue;
  /** Delivery ids to requeue. */
  ids?: readonly string[];
  /** Requeue every `dead` delivery. */
  allDead?: boolean;
  logger?: Logger;
  clock?: () => Date;
}

export interface RequeueResult {
  /** Rows made `pending` with `retry_count = 0`, with the status they had. */
  requeued: Array<{ id: string; channel: string; previousStatus: 'dead' | 'failed' }>;
  /** Ids left untouched: their status (`pending`, `sent`) or `not found`. */
  notRequeued: Array<{ id: string; status: DeliveryStatus | 'not found' }>;
  /** Requeued rows the queue refused: back to `failed`, due now, for the sweeper. */
  unpublished: string[];
}

/**
 * An operator's second chance for deliveries: the given ids (or every `dead` one) that are `dead` or `failed`
 * become `pending` with `retry_count = 0` and no `last_error` (their attempt history stays) and are published at
 * once. Any other id (`sent`, `pending`, unknown) is reported as not requeued and left untouched — requeueing a
 * sent alert would send it twice.
 *
 * @example await requeueDeliveries({ db, queue, allDead: true })
 */
export async function requeueDeliveries(options: RequeueOptions): Promise<RequeueResult> {
  const ids = [...new Set((options.ids ?? []).map((id) => id.trim().toLowerCase()))];
  if (ids.length === 0 && !options.allDead) {
    throw new DeliveryUsageError('ids', 'give delivery ids to requeue, or allDead: true');
  }
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? (() => new Date());
  const now = clock();
  const valid = ids.filter((id) => isDeliveryId(id));

  const { requeued, found } = await options.db.runTx(async (tx) => {
    const updated = await requeueRows(tx, valid, options.allDead === true, now);
    const done = new Set(updated.map((row) => row.id));
    return {
      requeued: updated,
      found: await deliveryStatuses(
        tx,
        valid.filter((id) => !done.has(id)),
      ),
    };
  });

  const done = new Set(requeued.map((row) => row.id));
  const result: RequeueResult = {
    requeued: requeued.map((row) => ({ id: row.id, channel: row.channel, previousStatus: row.previous_status })),
    notRequeued: ids.filter((id) => !done.has(id)).map((id) => ({ id, status: found.get(id) ?? 'not found' })),
    unpublished: [],
  };
  if (requeued.length > 0) {
    const unpublished = await publishRecorded(options.db, options.queue, requeued.map(toDeliveryMessage), clock);
    if (unpublished) {
      result.unpublished = [...unpublished.failed];
      logger.error('requeued deliveries could not be published; the sweeper will publish them', {
        unpublished: unpublished.failed.length,
        error: describeError(unpublished.error),
      });
    }
  }
  logger.info('deliveries requeued', { requeued: result.requeued.length, notRequeued: result.notRequeued.length });
  return result;
}
