/**
 * Scheduled: probes every node, verifies exactly one primary, repoints the read-write and read-only endpoints.
 * Manual: `pgwarden invoke topology --payload '{"clusters":["orders"],"dryRun":true}'`.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { z } from 'zod';
import { topologySettingsFor } from '../shared/config/index.ts';
import { createEndpointsWriter, createKubeConfig } from '../shared/k8s/index.ts';
import { runTopology, type TopologyResult } from '../shared/topology/index.ts';
import { loadFunctionConfig } from './lib/config.ts';
import { createFunctionDeps } from './lib/deps.ts';
import { parseInvocation, pickClusters } from './lib/events.ts';
import { createFunctionLogger } from './lib/logger.ts';

const payloadSchema = z.strictObject({ clusters: z.array(z.string()).optional(), dryRun: z.boolean().default(false) });

const { powertools, logger } = createFunctionLogger('topology');
const deps = createFunctionDeps(loadFunctionConfig(), logger);

/** The Kubeconfig secret is YAML text; the client reads files, so it is written once per container (0600). */
function kubeconfigFile(settingsPath: string | undefined): string | undefined {
  const text = process.env.PGWARDEN_KUBECONFIG_TEXT;
  if (settingsPath || !text) return settingsPath;
  const file = path.join(tmpdir(), 'pgwarden-kubeconfig.yaml');
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

/** The last sane result per cluster, kept while the container is warm: it tells a primary change apart. */
const previous = new Map<string, TopologyResult>();

export const handler = middy(async (event: unknown) => {
  const request = parseInvocation(event, payloadSchema);
  const clusters = pickClusters(deps.config.clusters, request.clusters);
  const stateDb = request.dryRun ? undefined : await deps.stateDb();
  const publisher = await deps.publisher({ dryRun: request.dryRun });
  const results = await Promise.all(
    clusters.map(async (cluster) => {
      const settings = topologySettingsFor(deps.config, cluster);
      const kubeconfig = kubeconfigFile(settings.kubeconfig);
      const writer =
        settings.manageEndpoints && kubeconfig
          ? createEndpointsWriter({
              kubeConfig: createKubeConfig({ kubeconfig }),
              api: settings.endpointsApi,
              portName: settings.portName,
              logger,
            })
          : undefined;
      const result = await runTopology({
        cluster,
        settings,
        writer,
        stateDb,
        publisher,
        logger: logger.child({ cluster: cluster.name }),
        dryRun: request.dryRun,
        previous: previous.get(cluster.name),
      });
      // Only a sane result names a primary: keeping the last one carries a change across a no-primary gap
      // (primary stopped, replica promoted a moment later) so topology_changed still names the old primary.
      if (result.verdict === 'ok') previous.set(cluster.name, result);
      return result;
    }),
  );
  return { clusters: results };
}).use(injectLambdaContext(powertools));
