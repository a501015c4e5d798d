/**
 * A fleet for the alert-path test and benchmark (issue 13): `size` one-node clusters `fleet-<i>` / `node-<i>`
 * spread over the servers of one harness cluster, the control database on its first node, Slack at `slackUrl`,
 * and a `total ≥ 1` threshold, which holds on every node while a session is open there.
 */
import { type Config, loadConfig } from '../../shared/config/index.ts';
import type { TestCluster } from '../harness/cluster.ts';

export function fleetConfig(cluster: TestCluster, options: { size: number; slackUrl: string; clusters?: Config['clusters'] }): Config {
  return loadConfig({
    env: {},
    overrides: {
      stateUrl: cluster.url(cluster.nodes[0]!),
      slack: { webhookUrl: options.slackUrl },
      watchdog: { thresholds: { total: 1 }, repeatInterval: '1h', concurrency: 16 },
      clusters:
        options.clusters ??
        Array.from({ length: options.size }, (_, i) => ({
          name: `fleet-${i}`,
          nodes: [{ name: `node-${i}`, url: cluster.url(cluster.nodes[i % cluster.nodes.length]!) }],
        })),
    },
  });
}
