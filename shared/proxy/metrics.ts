/**
 * The proxy's Prometheus metrics, in a registry of its own (never prom-client's global one, so two proxies in one
 * process, or a proxy next to other modules, do not collide). Hot-path numbers (bytes, connection counts) live in
 * plain fields and are read at scrape time by `collect`; everything else is read from the proxy's state, the same
 * object `/topology` shows. The role, routing and split-brain series live in metrics-state.ts, the connection and byte
 * counts in metrics-traffic.ts, build info and the process metrics in metrics-process.ts.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { registerProcessMetrics } from './metrics-process.ts';
import { registerStateMetrics } from './metrics-state.ts';
import { registerTrafficMetrics } from './metrics-traffic.ts';
import type { MetricsSource } from './metrics-types.ts';

export type { ListenerName, MetricsSource } from './metrics-types.ts';

export interface ProxyMetrics {
  readonly registry: Registry;
  observeCheck(node: string, seconds: number, ok: boolean): void;
}

/** Builds the registry; `source` is read on every scrape. */
export function createProxyMetrics(source: MetricsSource): ProxyMetrics {
  const registry = new Registry();
  registerProcessMetrics(registry, () => source.state().dataPath);
  registerStateMetrics(registry, () => source.state());
  registerTrafficMetrics(registry, source);
  new Gauge({
    name: 'pgwarden_proxy_node_up',
    help: '1 when the last health check of the node succeeded',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const node of source.state().nodes) this.set({ node: node.name }, node.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'pgwarden_proxy_replica_lag_bytes',
    help: 'Replay lag of each replica behind the primary, in bytes',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const node of source.state().nodes) if (node.lagBytes !== null) this.set({ node: node.name }, node.lagBytes);
    },
  });
  const checks = new Histogram({
    name: 'pgwarden_proxy_health_check_seconds',
    help: 'Health check latency per node and outcome',
    labelNames: ['node', 'outcome'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  new Counter({
    name: 'pgwarden_proxy_failovers_total',
    help: 'Changes of the read-write target from one node to another',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(source.state().failovers);
    },
  });
  new Gauge({
    name: 'pgwarden_proxy_split_brain',
    help: '0: one primary; 1: several primaries, the one on the highest timeline takes read-write; 2: several on the same timeline, read-write refused',
    registers: [registry],
    collect() {
      const { kind } = source.state().splitBrain;
      this.set(kind === 'none' ? 0 : kind === 'resolved' ? 1 : 2);
    },
  });
  new Gauge({
    name: 'pgwarden_proxy_leader',
    help: '1 when this proxy holds the Lease (and the floating address, if any)',
    registers: [registry],
    collect() {
      this.set(source.state().leader ? 1 : 0);
    },
  });
  return {
    registry,
    observeCheck(node, seconds, ok) {
      checks.observe({ node, outcome: ok ? 'ok' : 'failed' }, seconds);
    },
  };
}
