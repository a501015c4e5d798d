/**
 * The CloudWatch metrics each handler publishes: the very handlers Lambda runs, invoked with their AWS event types
 * against the harness cluster and the Slack fake, with stdout captured the way Lambda's log agent reads it. Every
 * Embedded Metric Format document is checked for what CloudWatch would make of it: namespace, metric names, values
 * and the exact dimension set.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { METRIC, METRICS_NAMESPACE } from '../../functions/lib/metric-names.ts';
import { planAlarms } from '../../infra/alarms-config.ts';
import { schedulesFor } from '../../infra/schedules-config.ts';
import { type AlertEvent, createAlertEvent } from '../../shared/alerts/index.ts';
import { createCluster } from '../../shared/db/index.ts';
import { closedPort, startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { type SlackFake, startSlackFake } from '../harness/fakes/slack.ts';
import { scheduledEvent, sqsEvent } from './lambda-events.ts';

/** One EMF document as CloudWatch reads it (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html). */
interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }>;
  };
  [key: string]: unknown;
}

type Handler = (event: unknown, context: Context) => Promise<unknown>;

function lambdaContext(functionName: string): Context {
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 30_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** Calls a handler with stdout captured; returns its answer and every EMF document it wrote there. */
async function invoke(handler: Handler, event: unknown, functionName: string): Promise<{ result: unknown; emf: EmfDocument[] }> {
  const written: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  let result: unknown;
  try {
    result = await handler(event, lambdaContext(functionName));
  } finally {
    spy.mockRestore();
  }
  const emf = written
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((doc): doc is EmfDocument => typeof doc._aws === 'object');
  return { result, emf };
}

/**
 * The value(s) of `name` in the one document whose dimension set is exactly `dimensions` (plus `service` and
 * `stage`), checked against CloudWatch's reading of it: namespace, the metric declared, its unit.
 */
function metric(docs: EmfDocument[], name: string, service: string, dimensions: Record<string, string> = {}): unknown {
  const expected = { service, stage: 'test', ...dimensions };
  const matching = docs.filter((doc) => {
    const directive = doc._aws.CloudWatchMetrics[0];
    if (!directive?.Metrics.some((m) => m.Name === name)) return false;
    const keys = directive.Dimensions[0] ?? [];
    return keys.length === Object.keys(expected).length && Object.entries(expected).every(([k, v]) => keys.includes(k) && doc[k] === v);
  });
  expect(matching, `${name} ${JSON.stringify(dimensions)} in ${JSON.stringify(docs)}`).toHaveLength(1);
  const doc = matching[0] as EmfDocument;
  expect(doc._aws.CloudWatchMetrics).toHaveLength(1);
  expect(doc._aws.CloudWatchMetrics[0]?.Namespace).toBe(METRICS_NAMESPACE);
  expect(doc._aws.CloudWatchMetrics[0]?.Dimensions).toHaveLength(1);
  return doc[name];
}

/** The value the alarm of that name would read from these documents (its namespace, metric and exact dimensions). */
function watchedBy(docs: EmfDocument[], alarmName: string): unknown {
  const alarm = planAlarms({ app: 'pgwarden', stage: 'test', schedules: schedulesFor('test'), dlqName: 'unused' }).find(
    (a) => a.name === alarmName,
  );
  if (!alarm) throw new Error(`no alarm ${alarmName}`);
  const found = docs.filter((doc) => {
    const directive = doc._aws.CloudWatchMetrics[0];
    const keys = directive?.Dimensions[0] ?? [];
    return (
      directive?.Namespace === alarm.namespace &&
      directive.Metrics.some((m) => m.Name === alarm.metricName) &&
      keys.length === Object.keys(alarm.dimensions).length &&
      Object.entries(alarm.dimensions).every(([k, v]) => keys.includes(k) && doc[k] === v)
    );
  });
  expect(found, `${alarmName} reads one document`).toHaveLength(1);
  return found[0]?.[alarm.metricName];
}

describe('function metrics (EMF on stdout)', () => {
  let cluster: TestCluster;
  let slack: SlackFake;
  let downPort: number;
  const saved = { ...process.env };
  const names = ['watchdog', 'topology', 'sweep', 'requeue', 'send-slack'] as const;
  const handlers = {} as Record<(typeof names)[number], Handler>;

  beforeAll(async () => {
    [cluster, slack, downPort] = await Promise.all([startTestCluster({ replicas: 1 }), startSlackFake(), closedPort()]);
    const secret = (value: string) => JSON.stringify({ type: 'sst.sst.Secret', value });
    const nodes = [
      ...cluster.nodes.map((n) => ({ name: n.name, url: cluster.url(n) })),
      { name: 'pg-down', url: `postgres://nobody:secret@127.0.0.1:${downPort}/postgres` },
    ];
    // The probe of the down node gives up at once: refused connections are not what is measured here.
    const fleet = { clusters: [{ name: 'orders', nodes }], topology: { retries: 0 } };
    Object.assign(process.env, {
      SST_RESOURCE_App: JSON.stringify({ name: 'pgwarden', stage: 'test' }),
      SST_RESOURCE_StateUrl: secret(cluster.url(cluster.primary())),
      SST_RESOURCE_ClusterUrls: secret(JSON.stringify(fleet)),
      SST_RESOURCE_SlackWebhookUrl: secret(slack.url),
      PGWARDEN_LOG_LEVEL: 'error',
      // What Lambda sets on a cold start; Powertools counts ColdStart only then.
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    });
    delete process.env.POWERTOOLS_METRICS_DISABLED;
    delete process.env.POWERTOOLS_DEV;
    delete process.env.PGWARDEN_STAGE;
    // Handlers read their configuration once, at import (a cold start): import them after it is set.
    for (const name of names) {
      handlers[name] = (await import(`../../functions/${name}.ts`)).handler as Handler;
    }
  }, 120_000);

  afterAll(async () => {
    process.env = saved;
    await Promise.all([cluster?.close(), slack?.close()]);
  });

  it('watchdog: ChecksRun counts every node, ChecksFailed the unreachable one, CheckDuration per cluster, a cold start once', async () => {
    const first = await invoke(handlers.watchdog, scheduledEvent, 'pgwarden-test-watchdog');
    const service = 'pgwarden-watchdog';
    expect(metric(first.emf, METRIC.checksRun, service)).toBe(3);
    // The heartbeat alarm reads exactly this series.
    expect(watchedBy(first.emf, 'pgwarden-test-watchdog-silent')).toBe(3);
    expect(metric(first.emf, METRIC.checksFailed, service)).toBe(1);
    expect(metric(first.emf, METRIC.watchdogProblems, service)).toBe(0);
    const durations = metric(first.emf, METRIC.checkDuration, service, { cluster: 'orders' });
    expect(durations).toHaveLength(3);
    expect((durations as number[]).every((ms) => Number.isInteger(ms) && ms >= 0)).toBe(true);
    const coldStart = first.emf.filter((doc) => 'ColdStart' in doc);
    expect(coldStart).toMatchObject([{ ColdStart: 1, function_name: 'pgwarden-test-watchdog', service }]);

    const second = await invoke(handlers.watchdog, scheduledEvent, 'pgwarden-test-watchdog');
    expect(metric(second.emf, METRIC.checksRun, service)).toBe(3);
    expect(second.emf.filter((doc) => 'ColdStart' in doc)).toEqual([]);
  });

  it('watchdog: a forced notification counts as AlertsFired{rule=test}; a dry run counts no alert', async () => {
    const forced = await invoke(handlers.watchdog, { forceNotification: true }, 'pgwarden-test-watchdog');
    expect(metric(forced.emf, METRIC.alertsFired, 'pgwarden-watchdog', { rule: 'test' })).toBe(1);
    await vi.waitFor(() => expect(slack.received.length).toBeGreaterThanOrEqual(1), { timeout: 10_000 });

    const dry = await invoke(handlers.watchdog, { forceNotification: true, dryRun: true }, 'pgwarden-test-watchdog');
    expect(metric(dry.emf, METRIC.checksRun, 'pgwarden-watchdog')).toBe(3);
    expect(dry.emf.filter((doc) => METRIC.alertsFired in doc)).toEqual([]);
  });

  it('topology: NodesUp and NodesDown per cluster, NodeUp per node, node_down fired, the round timed', async () => {
    const { emf } = await invoke(handlers.topology, scheduledEvent, 'pgwarden-test-topology');
    const service = 'pgwarden-topology';
    expect(metric(emf, METRIC.clustersProbed, service)).toBe(1);
    expect(metric(emf, METRIC.topologyUnsafe, service)).toBe(0);
    expect(metric(emf, METRIC.nodesUp, service, { cluster: 'orders' })).toBe(2);
    expect(metric(emf, METRIC.nodesDown, service, { cluster: 'orders' })).toBe(1);
    expect(metric(emf, METRIC.nodeUp, service, { cluster: 'orders', node: 'pg-0' })).toBe(1);
    expect(metric(emf, METRIC.nodeUp, service, { cluster: 'orders', node: 'pg-1' })).toBe(1);
    expect(metric(emf, METRIC.nodeUp, service, { cluster: 'orders', node: 'pg-down' })).toBe(0);
    expect(metric(emf, METRIC.alertsFired, service, { rule: 'node_down' })).toBe(1);
    expect(metric(emf, METRIC.probeDuration, service)).toBeGreaterThanOrEqual(0);
  });

  function deliveryBody(event: AlertEvent): string {
    return JSON.stringify({ v: 1, deliveryId: randomUUID(), channel: 'slack', event });
  }
  const alert = () =>
    createAlertEvent({
      rule: 'connections_total',
      severity: 'warning',
      status: 'firing',
      cluster: 'orders',
      client: 'watchdog',
      summary: 'orders: 90 connections',
    });

  it('send-slack: a delivery sent counts Deliveries{channel=slack,outcome=sent} = 1, a malformed one outcome=rejected', async () => {
    const { result, emf } = await invoke(handlers['send-slack'], sqsEvent([deliveryBody(alert()), 'not json']), 'pgwarden-test-send-slack');
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
    const service = 'pgwarden-send-slack';
    expect(metric(emf, METRIC.deliveries, service, { channel: 'slack', outcome: 'sent' })).toBe(1);
    expect(metric(emf, METRIC.deliveries, service, { channel: 'slack', outcome: 'rejected' })).toBe(1);
    expect(metric(emf, METRIC.deadDeliveries, service)).toBe(0);
  });

  it('send-slack: a delivery Slack refuses for good counts DeadDeliveries = 1 and outcome=dead', async () => {
    slack.respondWith({ status: 403, body: 'invalid_token' });
    const { emf } = await invoke(handlers['send-slack'], sqsEvent([deliveryBody(alert())]), 'pgwarden-test-send-slack');
    const service = 'pgwarden-send-slack';
    expect(metric(emf, METRIC.deliveries, service, { channel: 'slack', outcome: 'dead' })).toBe(1);
    expect(metric(emf, METRIC.deadDeliveries, service)).toBe(1);
    expect(watchedBy(emf, 'pgwarden-test-dead-deliveries-send-slack')).toBe(1);
  });

  it('sweep: a failed delivery that used up its attempts counts DeadDeliveries = 1; requeue counts it back', async () => {
    const db = createCluster({ primary: cluster.url(cluster.primary()), healthCheck: { intervalMs: 0 } });
    const id = randomUUID();
    const event = alert();
    try {
      await db.query(
        `insert into pgwarden.deliveries (id, event_id, channel, status, retry_count, next_retry_at, last_error, rule, cluster, event)
         values ($1, $2, 'slack', 'failed', 5, now() + interval '1 hour', '500 rollup_error', $3, $4, $5)`,
        [id, event.id, event.rule, event.cluster, JSON.stringify(event)],
      );
      const swept = await invoke(handlers.sweep, scheduledEvent, 'pgwarden-test-sweep');
      expect(swept.result).toMatchObject({ promotedDead: 1 });
      expect(metric(swept.emf, METRIC.deadDeliveries, 'pgwarden-sweep')).toBe(1);
      expect(watchedBy(swept.emf, 'pgwarden-test-dead-deliveries-sweep')).toBe(1);
      expect(metric(swept.emf, METRIC.deliveriesRetried, 'pgwarden-sweep')).toBe(0);

      const requeued = await invoke(handlers.requeue, { ids: [id] }, 'pgwarden-test-requeue');
      expect(metric(requeued.emf, METRIC.deliveriesRequeued, 'pgwarden-requeue')).toBe(1);
      expect(metric(requeued.emf, METRIC.deliveriesUnpublished, 'pgwarden-requeue')).toBe(0);
    } finally {
      await db.close();
    }
  });
});
