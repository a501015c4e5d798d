/**
 * The alert queues. An SQS queue can have one Lambda subscriber (SST refuses a second `subscribe`, and two event
 * source mappings on one queue would steal each other's messages), so each channel has its own queue, fed with that
 * channel's `{ deliveryId, channel, event }` messages, and both redrive to one dead-letter queue.
 */
import {
  DLQ_RETENTION_SECONDS,
  LOKI_BATCH,
  QUEUE_MAX_RECEIVES,
  type SenderBatch,
  SLACK_BATCH,
  visibilityTimeoutSeconds,
} from './sizing.ts';

export function createQueues() {
  const dlq = new sst.aws.Queue('AlertsDlq', {
    transform: { queue: { messageRetentionSeconds: DLQ_RETENTION_SECONDS } },
  });
  const slack = new sst.aws.Queue('AlertsSlack', {
    visibilityTimeout: `${visibilityTimeoutSeconds('send-slack')} seconds`,
    dlq: { queue: dlq.arn, retry: QUEUE_MAX_RECEIVES },
  });
  const loki = new sst.aws.Queue('AlertsLoki', {
    visibilityTimeout: `${visibilityTimeoutSeconds('send-loki')} seconds`,
    dlq: { queue: dlq.arn, retry: QUEUE_MAX_RECEIVES },
  });
  return { dlq, slack, loki };
}

export type AlertQueues = ReturnType<typeof createQueues>;

function subscribe(queue: sst.aws.Queue, sender: sst.aws.Function, batch: SenderBatch) {
  // By ARN: the function is created (with its explicit name and SQS permissions) in infra/functions.ts.
  return queue.subscribe(sender.arn, {
    batch: { size: batch.size, window: `${batch.windowSeconds} seconds`, partialResponses: true },
    transform: { eventSourceMapping: { scalingConfig: { maximumConcurrency: batch.maximumConcurrency } } },
  });
}

/** One subscriber per queue, reporting partial batch failures (`batchItemFailures`). */
export function subscribeSenders(queues: AlertQueues, senders: { sendSlack: sst.aws.Function; sendLoki: sst.aws.Function }) {
  return {
    slack: subscribe(queues.slack, senders.sendSlack, SLACK_BATCH),
    loki: subscribe(queues.loki, senders.sendLoki, LOKI_BATCH),
  };
}
