/**
 * Scheduled: checks the connections of every node of the fleet and raises alerts.
 * Manual: `pgwarden invoke watchdog --payload '{"clusters":["orders"],"dryRun":true,"forceNotification":true}'`.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { z } from 'zod';
import { watchdogSettingsFor } from '../shared/config/index.ts';
import { runWatchdog, toWatchdogJson } from '../shared/watchdog/index.ts';
import { loadFunctionConfig } from './lib/config.ts';
import { createFunctionDeps } from './lib/deps.ts';
import { parseInvocation, pickClusters } from './lib/events.ts';
import { createFunctionLogger } from './lib/logger.ts';
import { watchdogMetrics } from './lib/metric-points.ts';
import { createFunctionMetrics } from './lib/metrics.ts';

const payloadSchema = z.strictObject({
  clusters: z.array(z.string()).optional(),
  dryRun: z.boolean().default(false),
  forceNotification: z.boolean().default(false),
});

const { powertools, logger } = createFunctionLogger('watchdog');
const metrics = createFunctionMetrics('watchdog', { logger });
const deps = createFunctionDeps(loadFunctionConfig(), logger);

export const handler = middy(async (event: unknown) => {
  const request = parseInvocation(event, payloadSchema);
  const clusters = pickClusters(deps.config.clusters, request.clusters);
  const result = await runWatchdog({
    clusters,
    settings: (cluster) => watchdogSettingsFor(deps.config, cluster),
    stateDb: request.dryRun ? undefined : await deps.stateDb(),
    publisher: await deps.publisher({ dryRun: request.dryRun }),
    logger,
    dryRun: request.dryRun,
    forceNotification: request.forceNotification,
  });
  metrics.record(watchdogMetrics(result, { dryRun: request.dryRun }));
  return toWatchdogJson(result);
})
  .use(injectLambdaContext(powertools))
  .use(metrics.middleware());
