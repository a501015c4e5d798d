/**
 * What is running, for the proxy's registry: `pgwarden_proxy_build_info` and the Node.js process metrics
 * (prom-client's default collectors, with the proxy's prefix). The process metrics are collected into one
 * registry per process and registered on each proxy's registry too, never on prom-client's global one: the
 * collectors start an event-loop monitor and a GC observer that cannot be stopped, so a process that creates many
 * proxies (tests, a simulation) must start them once, and they describe the process, not a proxy, anyway.
 */
import { collectDefaultMetrics, Gauge, type Metric, Registry } from 'prom-client';
import packageJson from '../../package.json' with { type: 'json' };

/** The prefix of every proxy series. */
export const PROXY_METRIC_PREFIX = 'pgwarden_proxy_';

let processRegistry: Registry | undefined;

/** The process collectors' registry, started on first use. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: PROXY_METRIC_PREFIX });
  }
  return processRegistry;
}

/**
 * Registers `pgwarden_proxy_build_info{version, node_version, data_path}` (always 1) and the process metrics
 * (`pgwarden_proxy_process_cpu_seconds_total`, `…_nodejs_eventloop_lag_seconds`, `…_process_resident_memory_bytes`
 * and the rest of prom-client's defaults) on `registry`. `dataPath` is read at scrape time.
 */
export function registerProcessMetrics(registry: Registry, dataPath: () => string): void {
  new Gauge({
    name: `${PROXY_METRIC_PREFIX}build_info`,
    help: 'Always 1; the labels say which pgwarden, which Node.js and which data path (native, handles, streams) run',
    labelNames: ['version', 'node_version', 'data_path'],
    registers: [registry],
    collect() {
      this.reset();
      this.set({ version: packageJson.version, node_version: process.version, data_path: dataPath() }, 1);
    },
  });
  // The array holds the metric objects themselves (typed as their JSON form): what `Registry.merge` re-registers.
  for (const metric of processMetrics().getMetricsAsArray()) {
    // prom-client's `nodejs_active_{handles,requests,resources}_total` are gauges with a counter's suffix, which
    // `promtool check metrics` rejects; their per-type siblings carry the same numbers (sum them).
    if (metric instanceof Gauge && metric.name.endsWith('_total')) continue;
    registry.registerMetric(metric as unknown as Metric);
  }
}
