/** Scheduled: publishes due retries again and promotes exhausted deliveries to dead. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { z } from 'zod';
import { deliveryChannels } from '../shared/config/index.ts';
import { sweepDeliveries } from '../shared/delivery/index.ts';
import { loadFunctionConfig } from './lib/config.ts';
import { createFunctionDeps } from './lib/deps.ts';
import { parseInvocation } from './lib/events.ts';
import { createFunctionLogger } from './lib/logger.ts';
import { sweepMetrics } from './lib/metric-points.ts';
import { createFunctionMetrics } from './lib/metrics.ts';

const payloadSchema = z.strictObject({ batchSize: z.number().int().min(1).max(10_000).default(100) });

const { powertools, logger } = createFunctionLogger('sweep');
const metrics = createFunctionMetrics('sweep', { logger });
const deps = createFunctionDeps(loadFunctionConfig(), logger);

export const handler = middy(async (event: unknown) => {
  const request = parseInvocation(event, payloadSchema);
  const db = await deps.requireStateDb();
  const queue = await deps.queue();
  const result = await sweepDeliveries({ db, queue, logger, batchSize: request.batchSize, channels: deliveryChannels(deps.config) });
  metrics.record(sweepMetrics(result));
  return result;
})
  .use(injectLambdaContext(powertools))
  .use(metrics.middleware());
