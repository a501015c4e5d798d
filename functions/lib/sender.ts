import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Channel } from '../../shared/alerts/index.ts';
import { processDeliveryBatch } from '../../shared/delivery/index.ts';
import { createNotifiers } from '../../shared/notifiers/index.ts';
import { loadFunctionConfig } from './config.ts';
import { createFunctionDeps } from './deps.ts';
import { createFunctionLogger } from './logger.ts';
import { deliveryMetrics } from './metric-points.ts';
import { createFunctionMetrics } from './metrics.ts';

/**
 * A queue consumer for one channel: each SQS record is one delivery, recorded in the ledger. Only records that
 * cannot be processed (malformed, wrong channel, ledger unreachable) are returned as batch item failures, so SQS
 * retries those and redrives them to the DLQ; a failed send is the ledger's and the sweeper's to retry.
 */
export function createSenderHandler(channel: Channel) {
  const { powertools, logger } = createFunctionLogger(`send-${channel}`);
  const metrics = createFunctionMetrics(`send-${channel}`, { logger });
  const deps = createFunctionDeps(loadFunctionConfig(), logger);
  const notifiers = createNotifiers(deps.config, { logger });
  if (!notifiers[channel]) logger.warn(`no ${channel} configured: every ${channel} delivery will fail until it is`);
  return middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const db = await deps.requireStateDb();
    const queue = await deps.queue();
    const { batchItemFailures, results } = await processDeliveryBatch(event.Records, {
      db,
      notifiers,
      channel,
      channels: deps.config.channels,
      logger,
      queue,
    });
    metrics.record(deliveryMetrics(channel, results));
    return { batchItemFailures };
  })
    .use(injectLambdaContext(powertools))
    .use(metrics.middleware());
}
