/**
 * Node health: the failure count behind `healthy`, one check per node on a fresh connection, and the background
 * schedule that repeats the checks.
 */
import { observeNode } from '../nodes/index.ts';
import { describeError } from '../redact/index.ts';
import { withConnection } from './connection.ts';
import type { ClusterContext, NodeHandle } from './node-handle.ts';
import { setRole } from './role-discovery.ts';
import type { ClusterOptions } from './types.ts';

/** The health of the client's nodes: what `healthy` in `stats()` and the routing read. */
export interface NodeHealth {
  /** Records one outcome for `node`: a success heals it, `failureThreshold` failures in a row mark it down. */
  record(node: NodeHandle, healthy: boolean, error?: unknown): void;
  /** Checks every node once (and, in discovery mode, records its role and timeline). */
  checkAll(): Promise<void>;
}

/** Health bookkeeping and checks for `context.nodes`, with `options.healthCheck`'s limits. */
export function createNodeHealth(context: ClusterContext, options: ClusterOptions): NodeHealth {
  const timeoutMs = options.healthCheck?.timeoutMs ?? 1000;
  const failureThreshold = Math.max(1, options.healthCheck?.failureThreshold ?? 1);
  const applicationName = `${options.pool?.applicationName ?? 'pgwarden'}-health`;
  const { logger, hooks } = context;

  const record = (node: NodeHandle, healthy: boolean, error?: unknown) => {
    node.lastCheckedAt = new Date();
    if (healthy) {
      node.consecutiveFailures = 0;
      node.lastError = undefined;
    } else {
      node.consecutiveFailures++;
      node.lastError = describeError(error);
    }
    const next = healthy ? true : node.consecutiveFailures >= failureThreshold ? false : node.healthy;
    if (next !== node.healthy) {
      node.healthy = next;
      logger[next ? 'info' : 'warn'](next ? 'node healthy' : 'node unhealthy', { node: node.name, role: node.role, error: node.lastError });
      hooks.onNodeChange?.({ node: node.name, healthy: next, role: node.role });
    }
  };

  /** One health check: a fresh connection (not the pool's) so a wedged pool cannot hide a healthy server. */
  const checkNode = async (node: NodeHandle): Promise<void> => {
    try {
      const { recovery, timeline } = await withConnection(
        node.url,
        { connectTimeoutMs: timeoutMs, queryTimeoutMs: timeoutMs, applicationName },
        observeNode,
      );
      node.timeline = timeline;
      if (context.discovery) setRole(context, node, recovery ? 'replica' : 'primary');
      record(node, true);
    } catch (error) {
      record(node, false, error);
    }
  };

  return {
    record,
    async checkAll() {
      await Promise.all(context.nodes.map(checkNode));
    },
  };
}

/**
 * Runs `check` every `intervalMs` (0 or less: never) until the cluster closes; returns the function that stops
 * the schedule. The timer is unref'd: the checker must not keep a CLI or a test process alive.
 */
export function scheduleHealthChecks(context: ClusterContext, intervalMs: number, check: () => Promise<void>): () => void {
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (context.isClosed() || intervalMs <= 0) return;
    timer = setTimeout(() => {
      check()
        .catch((error) => context.logger.error('health check failed', { error: describeError(error) }))
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();
  return () => {
    if (timer) clearTimeout(timer);
  };
}
