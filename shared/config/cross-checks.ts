/**
 * Checks across fields: unique cluster and node names, and channels that something can deliver. They read the
 * merged input defensively, so `loadConfig` can run them even when other fields failed validation (zod skips an
 * object's refinements once a field inside it failed) and list every problem at once.
 */

/** One cross-field problem: where (`path`, as zod paths) and what. */
export interface CrossFieldIssue {
  path: Array<string | number>;
  message: string;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const isText = (value: unknown): value is string => typeof value === 'string' && value !== '';

/** Duplicate cluster names, and duplicate node names within a cluster. */
function duplicateNames(input: Json): CrossFieldIssue[] {
  const issues: CrossFieldIssue[] = [];
  if (!Array.isArray(input.clusters)) return issues;
  const clusterNames = new Set<string>();
  input.clusters.forEach((cluster: unknown, i) => {
    if (!isObject(cluster)) return;
    if (typeof cluster.name === 'string') {
      if (clusterNames.has(cluster.name)) {
        issues.push({ path: ['clusters', i, 'name'], message: `duplicate cluster name "${cluster.name}"` });
      }
      clusterNames.add(cluster.name);
    }
    if (!Array.isArray(cluster.nodes)) return;
    const nodeNames = new Set<string>();
    cluster.nodes.forEach((node: unknown, j) => {
      if (!isObject(node) || typeof node.name !== 'string') return;
      if (nodeNames.has(node.name)) {
        issues.push({ path: ['clusters', i, 'nodes', j, 'name'], message: `duplicate node name "${node.name}"` });
      }
      nodeNames.add(node.name);
    });
  });
  return issues;
}

/**
 * Channels named in `channels` that nothing here can deliver: no sender configured (`slack`, `loki`) and no queue
 * that carries the channel to a sender elsewhere (`queue.url`, `queue.urls.<channel>`). Such deliveries could
 * only fail.
 */
function undeliverableChannels(input: Json): CrossFieldIssue[] {
  if (!Array.isArray(input.channels)) return [];
  const queue = isObject(input.queue) ? input.queue : {};
  const urls = isObject(queue.urls) ? queue.urls : {};
  return input.channels.flatMap((channel: unknown, i): CrossFieldIssue[] => {
    if (channel !== 'slack' && channel !== 'loki') return [];
    if (isObject(input[channel]) || isText(queue.url) || isText(urls[channel])) return [];
    const setting = channel === 'slack' ? 'slack.webhookUrl' : 'loki.url';
    return [
      {
        path: ['channels', i],
        message: `names ${channel}, but no sender is configured for channel ${channel}: set ${setting}, or queue.urls.${channel} (or queue.url) for a sender elsewhere`,
      },
    ];
  });
}

/** Every cross-field problem of a config, parsed or raw. */
export function crossFieldIssues(input: unknown): CrossFieldIssue[] {
  if (!isObject(input)) return [];
  return [...duplicateNames(input), ...undeliverableChannels(input)];
}

/** The channels alerts go to: `channels` when given, else those with a sender configured (slack, loki). */
export function deliveryChannels(config: { channels?: ReadonlyArray<'slack' | 'loki'>; slack?: unknown; loki?: unknown }) {
  if (config.channels) return [...config.channels];
  return (['slack', 'loki'] as const).filter((channel) => config[channel] !== undefined);
}
