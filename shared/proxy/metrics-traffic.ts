/**
 * The proxy's traffic series: connections open and routed per listener and node, refusals per reason, bytes per
 * node and direction, and clients routed per data-plane thread, all read from the counters at scrape time.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { MetricsSource } from './metrics-types.ts';

/** Registers the traffic series in `registry`; `source` is read on every scrape. */
export function registerTrafficMetrics(registry: Registry, source: MetricsSource): void {
  new Gauge({
    name: 'pgwarden_proxy_connections_active',
    help: 'Client connections open now, per listener and node',
    labelNames: ['listener', 'node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const node of source.state().nodes) {
        this.set({ listener: 'rw', node: node.name }, node.connections.rw);
        this.set({ listener: 'ro', node: node.name }, node.connections.ro);
      }
    },
  });
  new Counter({
    name: 'pgwarden_proxy_connections_total',
    help: 'Client connections routed since start, per listener and node',
    labelNames: ['listener', 'node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const node of source.state().nodes) {
        this.inc({ listener: 'rw', node: node.name }, node.connectionsTotal.rw);
        this.inc({ listener: 'ro', node: node.name }, node.connectionsTotal.ro);
      }
    },
  });
  new Counter({
    name: 'pgwarden_proxy_connections_refused_total',
    help: 'Client connections refused with an error message, per listener and reason',
    labelNames: ['listener', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [listener, reason, count] of source.refused()) this.inc({ listener, reason }, count);
    },
  });
  new Counter({
    name: 'pgwarden_proxy_bytes_total',
    help: 'Bytes spliced, per node and direction (in = client to node, out = node to client)',
    labelNames: ['node', 'direction'],
    registers: [registry],
    collect() {
      this.reset();
      for (const node of source.state().nodes) {
        this.inc({ node: node.name, direction: 'in' }, node.bytesIn);
        this.inc({ node: node.name, direction: 'out' }, node.bytesOut);
      }
    },
  });
  new Counter({
    name: 'pgwarden_proxy_worker_connections_total',
    help: 'Client connections routed since start, per data-plane thread (0 is the main thread): how evenly the kernel spreads them',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [worker, routed] of source.workers().entries()) this.inc({ worker: String(worker) }, routed);
    },
  });
}
