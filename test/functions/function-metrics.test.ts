/**
 * functions/lib/metrics.ts on its own: how recorded points become EMF documents on stdout, and what Powertools'
 * own messages become in the function's log. (test/functions/metrics.test.ts runs the handlers end to end.)
 */
import type { Request } from '@middy/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFunctionMetrics } from '../../functions/lib/metrics.ts';
import type { LogFields, Logger } from '../../shared/log/index.ts';

interface Captured {
  level: string;
  message: string;
}

function capturingLogger(lines: Captured[]): Logger {
  const log = (level: string) => (message: string, _fields?: LogFields) => {
    lines.push({ level, message });
  };
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

const request = {
  event: {},
  context: { functionName: 'pgwarden-unit-sweep' },
  response: null,
  error: null,
  internal: {},
} as unknown as Request;

describe('createFunctionMetrics', () => {
  let written: string[];
  const saved = { ...process.env };

  beforeEach(() => {
    delete process.env.POWERTOOLS_METRICS_DISABLED;
    delete process.env.POWERTOOLS_DEV;
    written = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
    process.env = { ...saved };
  });

  const documents = () =>
    written
      .join('')
      .split('\n')
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown> & { _aws: { CloudWatchMetrics: Array<{ Dimensions: string[][] }> } });

  it('writes one document per dimension set, and never flushes plain figures under another set’s dimensions', async () => {
    const metrics = createFunctionMetrics('sweep', { env: { PGWARDEN_STAGE: 'unit' } });
    const middleware = metrics.middleware();
    await middleware.before?.(request);
    metrics.record([{ name: 'DeadDeliveries', unit: 'Count', values: [2] }]);
    metrics.record([
      { name: 'CheckDuration', unit: 'Milliseconds', values: [3, 4], dimensions: { cluster: 'orders' } },
      { name: 'NodesUp', unit: 'Count', values: [2], dimensions: { cluster: 'orders' } },
      { name: 'NodeUp', unit: 'Count', values: [0], dimensions: { cluster: 'orders', node: 'pg-1' } },
      { name: 'ChecksRun', unit: 'Count', values: [] },
    ]);
    expect(documents()).toHaveLength(2);
    await middleware.after?.(request);

    const docs = documents();
    expect(docs.map((doc) => doc._aws.CloudWatchMetrics[0]?.Dimensions)).toEqual([
      [['service', 'stage', 'cluster']],
      [['service', 'stage', 'cluster', 'node']],
      [['service', 'stage']],
    ]);
    expect(docs[0]).toMatchObject({ service: 'pgwarden-sweep', stage: 'unit', cluster: 'orders', CheckDuration: [3, 4], NodesUp: 2 });
    expect(docs[0]).not.toHaveProperty('DeadDeliveries');
    expect(docs[1]).toMatchObject({ node: 'pg-1', NodeUp: 0 });
    expect(docs[2]).toMatchObject({ service: 'pgwarden-sweep', stage: 'unit', DeadDeliveries: 2 });
    // A point without values is left out, not written as an empty metric.
    expect(docs.some((doc) => 'ChecksRun' in doc)).toBe(false);
  });

  it('splits a series of more than 99 values over documents that all keep their dimensions', () => {
    const metrics = createFunctionMetrics('watchdog', { env: { PGWARDEN_STAGE: 'unit' } });
    const durations = Array.from({ length: 250 }, (_, i) => i);
    metrics.record([
      { name: 'CheckDuration', unit: 'Milliseconds', values: durations, dimensions: { cluster: 'fleet' } },
      { name: 'NodesUp', unit: 'Count', values: [250], dimensions: { cluster: 'fleet' } },
    ]);
    const docs = documents();
    expect(docs).toHaveLength(3);
    for (const doc of docs) expect(doc).toMatchObject({ cluster: 'fleet', stage: 'unit', service: 'pgwarden-watchdog' });
    expect(docs.flatMap((doc) => doc.CheckDuration as number[])).toEqual(durations);
    expect(docs.filter((doc) => 'NodesUp' in doc)).toHaveLength(1);
  });

  it('never writes a secret in a dimension value', () => {
    const metrics = createFunctionMetrics('topology', { env: { PGWARDEN_STAGE: 'unit' } });
    metrics.record([
      { name: 'NodeUp', unit: 'Count', values: [1], dimensions: { cluster: 'orders', node: 'postgres://app:s3cret@db:5432/x' } },
    ]);
    expect(written.join('')).toContain('NodeUp');
    expect(written.join('')).not.toContain('s3cret');
  });

  it('a failed invocation with no figures writes nothing and logs Powertools’ "nothing to publish" at debug only', async () => {
    const lines: Captured[] = [];
    const metrics = createFunctionMetrics('requeue', { logger: capturingLogger(lines), env: { PGWARDEN_STAGE: 'unit' } });
    await metrics.middleware().onError?.(request);
    expect(documents()).toEqual([]);
    expect(lines.filter((line) => line.level === 'warn')).toEqual([]);
    expect(lines).toContainEqual({ level: 'debug', message: expect.stringContaining('No application metrics to publish') });
  });

  it('writes nothing when POWERTOOLS_METRICS_DISABLED=true (what pgwarden dev sets)', async () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    const metrics = createFunctionMetrics('sweep', { env: { PGWARDEN_STAGE: 'unit' } });
    metrics.record([{ name: 'DeadDeliveries', unit: 'Count', values: [1], dimensions: { cluster: 'orders' } }]);
    metrics.record([{ name: 'DeadDeliveries', unit: 'Count', values: [1] }]);
    await metrics.middleware().after?.(request);
    expect(documents()).toEqual([]);
  });
});
