/**
 * Manual only: `pgwarden invoke requeue --payload '{"ids":["…"]}'` or `'{"allDead":true}'`. Only dead or failed
 * deliveries are requeued; every other id is reported as not requeued and left as it is.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { z } from 'zod';
import { requeueDeliveries } from '../shared/delivery/index.ts';
import { loadFunctionConfig } from './lib/config.ts';
import { createFunctionDeps } from './lib/deps.ts';
import { PayloadError, parseInvocation } from './lib/events.ts';
import { createFunctionLogger } from './lib/logger.ts';
import { requeueMetrics } from './lib/metric-points.ts';
import { createFunctionMetrics } from './lib/metrics.ts';

const payloadSchema = z.strictObject({ ids: z.array(z.uuid()).optional(), allDead: z.boolean().default(false) });

const { powertools, logger } = createFunctionLogger('requeue');
const metrics = createFunctionMetrics('requeue', { logger });
const deps = createFunctionDeps(loadFunctionConfig(), logger);

export const handler = middy(async (event: unknown) => {
  const request = parseInvocation(event, payloadSchema);
  if (request.scheduled || (!request.allDead && !request.ids?.length)) {
    throw new PayloadError('requeue needs {"ids":["<delivery id>", …]} or {"allDead":true}');
  }
  const db = await deps.requireStateDb();
  const queue = await deps.queue();
  const result = await requeueDeliveries({ db, queue, ids: request.ids, allDead: request.allDead, logger });
  metrics.record(requeueMetrics(result));
  return result;
})
  .use(injectLambdaContext(powertools))
  .use(metrics.middleware());
