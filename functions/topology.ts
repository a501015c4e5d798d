/**
 * Scheduled: probes every node, verifies exactly one primary, repoints the read-write and read-only endpoints.
 * Manual: `pgwarden invoke topology --payload '{"clusters":["orders"],"dryRun":true}'`.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { z } from 'zod';
import { topologySettingsFor } from '../shared/config/index.ts';
import { createEndpointsWriterFactory } from '../shared/k8s/index.ts';
import { createTopologyMonitor } from '../shared/topology/index.ts';
import { loadFunctionConfig } from './lib/config.ts';
import { createFunctionDeps } from './lib/deps.ts';
import { parseInvocation, pickClusters } from './lib/events.ts';
import { createFunctionLogger } from './lib/logger.ts';
import { topologyMetrics } from './lib/metric-points.ts';
import { createFunctionMetrics } from './lib/metrics.ts';

const payloadSchema = z.strictObject({ clusters: z.array(z.string()).optional(), dryRun: z.boolean().default(false) });

const { powertools, logger } = createFunctionLogger('topology');
const metrics = createFunctionMetrics('topology', { logger });
const deps = createFunctionDeps(loadFunctionConfig(), logger);
// Kept while the container is warm: writers, and each cluster's last sane result.
const writerFor = createEndpointsWriterFactory(logger);
const monitor = createTopologyMonitor();

export const handler = middy(async (event: unknown) => {
  const request = parseInvocation(event, payloadSchema);
  const targets = pickClusters(deps.config.clusters, request.clusters).map((cluster) => {
    const settings = topologySettingsFor(deps.config, cluster);
    return { cluster, settings, writer: writerFor(settings) };
  });
  const stateDb = request.dryRun ? undefined : await deps.stateDb();
  const publisher = await deps.publisher({ dryRun: request.dryRun });
  // The round only: a cold start's connection and migrations are not the probe's time.
  const started = performance.now();
  const clusters = await monitor.run({ targets, stateDb, publisher, logger, dryRun: request.dryRun });
  metrics.record(topologyMetrics(clusters, { dryRun: request.dryRun, durationMs: performance.now() - started }));
  return { clusters };
})
  .use(injectLambdaContext(powertools))
  .use(metrics.middleware());
