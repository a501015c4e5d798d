import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { MiddlewareObj } from '@middy/core';
import type { FunctionName } from '../../shared/invoke/names.ts';
import type { Logger } from '../../shared/log/index.ts';
import { redact } from '../../shared/redact/index.ts';
import { readLinkedApp } from './config.ts';
import { METRICS_NAMESPACE, type MetricName, serviceName } from './metric-names.ts';

/** One figure of an invocation: a count, a duration (one value per item measured) or a gauge. */
export interface MetricPoint {
  name: MetricName;
  unit: 'Count' | 'Milliseconds';
  /** One or more values (CloudWatch aggregates them: Sum, Average, p99 …). */
  values: readonly number[];
  /** Dimensions on top of `service` and `stage`; keep them few and bounded (a cluster, a rule, never an id). */
  dimensions?: Readonly<Record<string, string>>;
}

export interface FunctionMetrics {
  /** The middy middleware: the cold-start metric before the handler, every stored metric flushed after it (or its error). */
  middleware(): MiddlewareObj;
  /**
   * Records an invocation's figures. Points with extra dimensions are written at once, one EMF document per
   * dimension set (an EMF document holds one value per dimension); the others are flushed by the middleware.
   */
  record(points: readonly MetricPoint[]): void;
}

const UNITS = { Count: MetricUnit.Count, Milliseconds: MetricUnit.Milliseconds } as const;
/** One fewer than Powertools' MAX_METRIC_VALUES_SIZE (100), at which it flushes on its own. */
const VALUES_PER_DOCUMENT = 99;

/**
 * Powertools' own messages through the function's logger. "No application metrics to publish" is what an invocation
 * that failed before it had figures flushes; its error is logged already, so that line is debug, not a warning.
 */
function metricsLogger(logger: Logger) {
  const line = (content: unknown[]) => content.map(String).join(' ');
  return {
    debug: (...content: unknown[]) => logger.debug(line(content)),
    info: (...content: unknown[]) => logger.info(line(content)),
    warn: (...content: unknown[]) =>
      String(content[0]).startsWith('No application metrics to publish') ? logger.debug(line(content)) : logger.warn(line(content)),
    error: (...content: unknown[]) => logger.error(line(content)),
  };
}

function dimensionKey(dimensions: Readonly<Record<string, string>> | undefined): string {
  return JSON.stringify(Object.entries(dimensions ?? {}).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Powertools Metrics for one function, at module scope: namespace `pgwarden`, dimensions `service`
 * (`pgwarden-<function>`) and `stage` (`PGWARDEN_STAGE`, else the linked app's stage). EMF documents go to stdout,
 * where Lambda's log agent turns them into CloudWatch metrics. `POWERTOOLS_METRICS_DISABLED=true` turns them off
 * (`pgwarden dev` sets it, so the local console stays readable); Powertools reads it at construction.
 *
 * @example
 * const metrics = createFunctionMetrics('sweep', { logger });
 * export const handler = middy(async () => { …; metrics.record(sweepMetrics(result)); }).use(metrics.middleware());
 */
export function createFunctionMetrics(fn: FunctionName, options: { logger?: Logger; env?: NodeJS.ProcessEnv } = {}): FunctionMetrics {
  const env = options.env ?? process.env;
  const stage = env.PGWARDEN_STAGE || readLinkedApp()?.stage || 'unknown';
  const create = () =>
    new Metrics({
      namespace: METRICS_NAMESPACE,
      serviceName: serviceName(fn),
      defaultDimensions: { stage },
      // Powertools' own warnings (an invalid dimension, nothing to publish) go through the function's JSON logger.
      ...(options.logger ? { logger: metricsLogger(options.logger) } : {}),
    });
  // The middleware flushes `metrics` once per invocation; `grouped` is flushed per dimension set as it is recorded,
  // so a flush of one never carries the other's figures under the wrong dimensions.
  const metrics = create();
  const grouped = create();
  return {
    middleware: () => logMetrics(metrics, { captureColdStartMetric: true }),
    record(points) {
      const groups = new Map<string, MetricPoint[]>();
      for (const point of points) {
        if (point.values.length === 0) continue;
        const key = dimensionKey(point.dimensions);
        groups.set(key, [...(groups.get(key) ?? []), point]);
      }
      const plain = groups.get(dimensionKey(undefined)) ?? [];
      groups.delete(dimensionKey(undefined));
      for (const group of groups.values()) {
        // Powertools publishes by itself when a metric reaches 100 values, dropping addDimension's dimensions for the
        // rest: a group is written in rounds of at most 99 values per metric, each round with its dimensions again.
        const rounds = Math.ceil(Math.max(...group.map((point) => point.values.length)) / VALUES_PER_DOCUMENT);
        for (let round = 0; round < rounds; round++) {
          // Dimension values come from config (cluster and node names): redacted, as everything pgwarden writes out.
          for (const [name, value] of Object.entries(group[0]?.dimensions ?? {})) grouped.addDimension(name, redact(value));
          for (const point of group) {
            const values = point.values.slice(round * VALUES_PER_DOCUMENT, (round + 1) * VALUES_PER_DOCUMENT);
            for (const value of values) grouped.addMetric(point.name, UNITS[point.unit], value);
          }
          // publishStoredMetrics clears addDimension's dimensions: each group gets exactly its own.
          grouped.publishStoredMetrics();
        }
      }
      for (const point of plain) for (const value of point.values) metrics.addMetric(point.name, UNITS[point.unit], value);
    },
  };
}
