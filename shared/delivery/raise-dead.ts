import { type Channel, createAlertEvent, type DeliveryMessage } from '../alerts/index.ts';
import type { Logger } from '../log/index.ts';
import { describeError } from '../redact/index.ts';
import { insertPendingDeliveries, publishRecorded, type Queryable } from './ledger.ts';
import type { AlertQueue } from './queue.ts';

export interface RaiseDeadDeps {
  /** The control database: the `delivery_dead` event gets ledger rows like any alert. */
  db: Queryable;
  /** Where the `delivery_dead` deliveries go (an SQS queue, or the sender in this process). */
  queue: AlertQueue;
  /** The channels that can carry the news; the dead delivery's own channel is left out here. */
  channels: readonly Channel[];
  clock?: () => Date;
}

/**
 * Tells the other channels that `message` will not arrive: a `delivery_dead` event, recorded in the ledger like any
 * alert and published. Never for a `delivery_dead` event (two dead channels must not loop). Used by the sender
 * when a row dies on an attempt and by the sweeper when it promotes exhausted rows. Failures are logged, not
 * thrown: the dead row itself is already recorded and visible.
 */
export async function raiseDeliveryDead(message: DeliveryMessage, lastError: string, deps: RaiseDeadDeps, log: Logger): Promise<void> {
  if (message.event.rule === 'delivery_dead') return;
  const channels = deps.channels.filter((channel) => channel !== message.channel);
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
    // Rows the queue refuses go back to `failed`, due now: the sweeper publishes them, so the news is not lost.
    const unpublished = await publishRecorded(deps.db, deps.queue, messages, clock);
    if (unpublished) throw unpublished.error;
    log.info('delivery_dead raised', { channels: channels.join(',') });
  } catch (error) {
    log.error('delivery_dead could not be raised', { error: describeError(error) });
  }
}
