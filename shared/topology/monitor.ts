import type { ClusterConfig, TopologySettings } from '../config/index.ts';
import type { EndpointsWriter } from './endpoints.ts';
import { type RunTopologyOptions, runTopology, type TopologyResult } from './run.ts';

export interface TopologyTarget {
  cluster: ClusterConfig;
  settings: TopologySettings;
  writer?: EndpointsWriter;
}

export type TopologyRoundOptions = Omit<RunTopologyOptions, 'cluster' | 'settings' | 'writer' | 'previous'> & {
  targets: readonly TopologyTarget[];
};

export interface TopologyMonitor {
  /** One probe-verify-plan-apply round over every target (clusters in parallel), results in target order. */
  run(options: TopologyRoundOptions): Promise<TopologyResult[]>;
}

/**
 * The topology use case over a fleet, round after round (a CLI `--interval` loop, a warm Lambda container). It
 * remembers each cluster's last *sane* result: only a sane result names a primary, so keeping it carries a change
 * across a no-primary gap (primary stopped, replica promoted a moment later) and `topology_changed` still names
 * the old primary.
 */
export function createTopologyMonitor(): TopologyMonitor {
  const lastSane = new Map<string, TopologyResult>();
  return {
    run({ targets, ...common }) {
      return Promise.all(
        targets.map(async ({ cluster, settings, writer }) => {
          const result = await runTopology({ ...common, cluster, settings, writer, previous: lastSane.get(cluster.name) });
          if (result.verdict === 'ok') lastSane.set(cluster.name, result);
          return result;
        }),
      );
    },
  };
}
