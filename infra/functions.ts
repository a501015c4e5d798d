/**
 * The six Lambda functions, deployed from the bundles `npm run build` writes (`dist/<name>/index.mjs`): the files the
 * bundle tests and benchmark measure are the files that ship. Names are set explicitly to
 * `<app>-<stage>-<function>` (shared/invoke/names.ts) so `pgwarden invoke` needs no other AWS API to find them.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { deployedFunctionName, FUNCTION_NAMES, type FunctionName } from '../shared/invoke/names.ts';
import type { AlertQueues } from './queue.ts';
import type { Secrets } from './secrets.ts';
import { FUNCTION_SIZING } from './sizing.ts';

const DESCRIPTIONS: Record<FunctionName, string> = {
  watchdog: 'pgwarden: connection watchdog (scheduled)',
  topology: 'pgwarden: topology probe and Kubernetes endpoints (scheduled)',
  sweep: 'pgwarden: re-enqueues failed deliveries that are due (scheduled)',
  requeue: 'pgwarden: requeues dead deliveries (invoked by hand)',
  'send-slack': 'pgwarden: sends queued alerts to Slack',
  'send-loki': 'pgwarden: pushes queued alerts to Loki',
};

/** The deployed bundle folder of a function; fails the deploy early, with the fix, when it was not built. */
function bundleOf(fn: FunctionName): string {
  const dir = join('dist', fn);
  if ($cli.command !== 'remove' && !existsSync(join($cli.paths.root, dir, 'index.mjs'))) {
    throw new Error(`${dir}/index.mjs is missing: run \`npm run build\` before \`sst ${$cli.command}\``);
  }
  return dir;
}

export interface FunctionsInput {
  secrets: Secrets;
  queues: AlertQueues;
  /** The functions reach the guarded databases where the proxy does: in the VPC (egress through its NAT). */
  vpc: sst.aws.Vpc;
}

export function createFunctions({ secrets, queues, vpc }: FunctionsInput): Record<FunctionName, sst.aws.Function> {
  const alertQueues = [queues.slack.arn, queues.loki.arn];
  // Publishing needs only SendMessage (which also authorises SendMessageBatch), on the alert queues only.
  const publish = { actions: ['sqs:SendMessage'], resources: alertQueues };
  // What the SQS event source mapping does with the function's role, on that sender's queue only.
  const consume = (queue: sst.aws.Queue) => ({
    actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'],
    resources: [queue.arn],
  });
  const common = { PGWARDEN_STAGE: $app.stage, PGWARDEN_LOG_FORMAT: 'json' };
  const publisherEnvironment = {
    ...common,
    PGWARDEN_QUEUE_URL_SLACK: queues.slack.url,
    PGWARDEN_QUEUE_URL_LOKI: queues.loki.url,
    PGWARDEN_DLQ_URL: queues.dlq.url,
    // The channels that have a destination; deliveries are created for these only.
    PGWARDEN_CHANNELS: $resolve([secrets.slackWebhookUrl.value, secrets.lokiUrl.value]).apply(([slack, loki]) =>
      [slack ? 'slack' : '', loki ? 'loki' : ''].filter(Boolean).join(','),
    ),
  };

  const settings: Record<FunctionName, Pick<sst.aws.FunctionArgs, 'link' | 'permissions' | 'environment'>> = {
    watchdog: { link: [secrets.stateUrl, secrets.clusterUrls], permissions: [publish], environment: publisherEnvironment },
    topology: {
      link: [secrets.stateUrl, secrets.clusterUrls, secrets.kubeconfig],
      permissions: [publish],
      environment: publisherEnvironment,
    },
    sweep: { link: [secrets.stateUrl], permissions: [publish], environment: publisherEnvironment },
    requeue: { link: [secrets.stateUrl], permissions: [publish], environment: publisherEnvironment },
    // A sender also publishes: when a delivery dies it raises `delivery_dead` on the other channel's queue.
    'send-slack': {
      link: [secrets.stateUrl, secrets.slackWebhookUrl],
      permissions: [consume(queues.slack), publish],
      environment: publisherEnvironment,
    },
    'send-loki': {
      link: [secrets.stateUrl, secrets.lokiUrl, secrets.lokiBearerToken],
      permissions: [consume(queues.loki), publish],
      environment: publisherEnvironment,
    },
  };

  const logical = (fn: FunctionName) => fn.replace(/(^|-)([a-z])/g, (_, _dash: string, c: string) => c.toUpperCase());
  const entries = FUNCTION_NAMES.map((fn) => {
    const { memoryMb, timeoutSeconds } = FUNCTION_SIZING[fn];
    const created = new sst.aws.Function(logical(fn), {
      name: deployedFunctionName({ app: $app.name, stage: $app.stage, fn }),
      description: DESCRIPTIONS[fn],
      runtime: 'nodejs22.x',
      // Pure JavaScript bundles (pg-native stays out): Graviton costs ~20% less per GB-second.
      architecture: 'arm64',
      bundle: bundleOf(fn),
      handler: 'index.handler',
      memory: `${memoryMb} MB`,
      timeout: `${timeoutSeconds} seconds`,
      vpc,
      logging: { retention: '1 month' },
      ...settings[fn],
    });
    return [fn, created] as const;
  });
  return Object.fromEntries(entries) as Record<FunctionName, sst.aws.Function>;
}
