import { z } from 'zod';
import { crossFieldIssues } from './cross-checks.ts';
import { parseBytes, parseDuration } from './units.ts';

/** A duration written `30s` (or a number of ms), validated and turned into milliseconds. */
export const durationMs = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    return parseDuration(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/** A size written `16MB` (or a number of bytes), turned into bytes. */
export const sizeBytes = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    return parseBytes(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

const count = z.coerce.number().int().min(0, 'must be 0 (off) or a positive whole number');
const port = z.coerce.number().int().min(1).max(65_535);

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\./.test(host);
}

/** An http(s) URL; `https` required unless the host is loopback (where fakes and local sinks live). */
export const webhookUrl = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a URL' });
    return;
  }
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && isLoopback(url.hostname)) return;
  ctx.addIssue({ code: 'custom', message: `must use https (http is allowed only for loopback hosts), got ${url.protocol}//${url.host}` });
});

export const postgresUrl = z.string().superRefine((value, ctx) => {
  try {
    const url = new URL(value);
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      ctx.addIssue({ code: 'custom', message: `must be a postgres:// URL, got ${url.protocol}//` });
    } else if (!url.hostname) {
      ctx.addIssue({ code: 'custom', message: 'must name a host' });
    }
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a postgres:// URL (postgres://user:password@host:5432/db)' });
  }
});

export const nodeSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'must be letters, digits, ".", "_" or "-"'),
  url: postgresUrl,
});

export const thresholdsSchema = z.strictObject({
  total: count.default(0),
  active: count.default(0),
  idle: count.default(0),
  idleInTransaction: count.default(0),
  stale: count.default(0),
});

const levelsSchema = z
  .union([z.string(), z.array(z.coerce.number())])
  .transform((value) => (typeof value === 'string' ? value.split(',').map((part) => Number(part.trim())) : value))
  .pipe(
    z
      .array(z.number().gt(0, 'each level must be above 0').max(100, 'each level is a percent, at most 100'))
      .min(1)
      .max(3, 'at most three levels (info, warning, critical)')
      .refine((levels) => levels.every((level, i) => i === 0 || level > (levels[i - 1] as number)), 'levels must increase'),
  );

export const watchdogSchema = z.strictObject({
  thresholds: thresholdsSchema.default(thresholdsSchema.parse({})),
  staleAge: durationMs.optional(),
  /** Percent of usable connections: the first is info, then warning, then critical. */
  levels: levelsSchema.default([75, 85, 95]),
  for: durationMs.default(0),
  repeatInterval: durationMs.default(4 * 3_600_000),
  connectTimeout: durationMs.default(5000),
  queryTimeout: durationMs.default(5000),
  /** Nodes checked at once across the fleet. */
  concurrency: z.coerce.number().int().min(1).max(1000).default(64),
});

export const topologySchema = z.strictObject({
  namespace: z.string().min(1).default('default'),
  rwService: z.string().min(1).default('postgres-rw'),
  roService: z.string().min(1).default('postgres-ro'),
  endpointsApi: z.enum(['slices', 'endpoints']).default('slices'),
  /** Port written into the endpoints; default: each node's own port. */
  port: port.optional(),
  portName: z.string().min(1).default('postgres'),
  maxLag: sizeBytes.default(16 * 1024 * 1024),
  roFallbackToPrimary: z.boolean().default(true),
  kubeconfig: z.string().optional(),
  /** A kubeconfig document itself (a deployed function's linked `Kubeconfig` secret); wins over `kubeconfig`. */
  kubeconfigText: z.string().min(1).optional(),
  connectTimeout: durationMs.default(3000),
  queryTimeout: durationMs.default(3000),
  retries: z.coerce.number().int().min(0).max(10).default(2),
  concurrency: z.coerce.number().int().min(1).max(1000).default(64),
  /** Write nothing to Kubernetes (the topology is still probed and reported). */
  manageEndpoints: z.boolean().default(true),
});

/** Per-cluster overrides: any watchdog/topology setting, given for one cluster only. */
const watchdogOverrideSchema = z.strictObject({
  // No defaults here: a cluster that overrides one threshold keeps the fleet's value for the others.
  thresholds: z
    .strictObject({
      total: count.optional(),
      active: count.optional(),
      idle: count.optional(),
      idleInTransaction: count.optional(),
      stale: count.optional(),
    })
    .optional(),
  staleAge: durationMs.optional(),
  levels: levelsSchema.optional(),
  for: durationMs.optional(),
  repeatInterval: durationMs.optional(),
  connectTimeout: durationMs.optional(),
  queryTimeout: durationMs.optional(),
});

/**
 * Every field optional and WITHOUT its default: zod's `.partial()` keeps defaults, so an override object would
 * silently reset the fleet-wide values of every key it does not name.
 */
function overridesOf<T extends z.ZodRawShape>(schema: z.ZodObject<T>) {
  const shape = Object.fromEntries(
    Object.entries(schema.shape).map(([key, field]) => [
      key,
      z.optional((field instanceof z.ZodDefault ? field.unwrap() : field) as z.ZodType),
    ]),
  ) as unknown as { [K in keyof T]: z.ZodOptional<T[K] extends z.ZodDefault<infer Inner> ? Inner : T[K]> };
  return z.strictObject(shape);
}

const topologyOverrideSchema = overridesOf(topologySchema);

export const clusterSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'must be letters, digits, ".", "_" or "-"'),
  nodes: z.array(nodeSchema).min(1, 'a cluster needs at least one node'),
  watchdog: watchdogOverrideSchema.optional(),
  topology: topologyOverrideSchema.optional(),
});

export const slackSchema = z.strictObject({
  webhookUrl: webhookUrl,
  timeout: durationMs.default(10_000),
});

export const lokiSchema = z.strictObject({
  url: webhookUrl,
  labels: z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'label names are letters, digits and _'), z.string()).default({}),
  orgId: z.string().min(1).optional(),
  bearerToken: z.string().min(1).optional(),
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  timeout: durationMs.default(10_000),
  /**
   * Structured metadata (event id, node, …) on each entry: `auto` sends it and, when the server refuses it
   * (Loki < 3, or `allow_structured_metadata: false`), sends again without it and remembers; `on` always sends it
   * (a refusal is then a permanent failure); `off` never does.
   */
  structuredMetadata: z.enum(['auto', 'on', 'off'], { error: 'must be auto, on or off' }).default('auto'),
});

export const queueSchema = z.strictObject({
  /** One SQS queue for every channel; without any queue, deliveries are sent directly by the publishing process. */
  url: z.url().optional(),
  /** One SQS queue per channel (what infra/ deploys: each sender function subscribes to its own queue). */
  urls: z.strictObject({ slack: z.url().optional(), loki: z.url().optional() }).optional(),
  dlqUrl: z.url().optional(),
  region: z.string().optional(),
  endpoint: z.url().optional(),
});

const WORKERS_MESSAGE = 'must be a whole number from 1 to 64, or auto';

export const proxySchema = z.strictObject({
  rwPort: port.default(5432),
  roPort: port.default(5433),
  apiPort: port.default(8008),
  apiHost: z.string().default('127.0.0.1'),
  apiToken: z.string().min(8, 'an API token needs at least 8 characters').optional(),
  listenHost: z.string().default('0.0.0.0'),
  checkInterval: durationMs.default(1000),
  /** The fast check on each replica's kept connection that notices a promotion between full checks; 0 turns it off. */
  promotionCheckInterval: durationMs.default(100),
  checkTimeout: durationMs.default(1000),
  connectTimeout: durationMs.default(3000),
  maxLag: sizeBytes.default(16 * 1024 * 1024),
  maxClients: z.coerce.number().int().min(1).default(1000),
  /**
   * Data-plane threads sharing the listeners (SO_REUSEPORT). 1 by default: the deployed task has a quarter of a
   * vCPU. `auto`: one per CPU, as HAProxy's nbthread.
   */
  workers: z
    .union([z.literal('auto'), z.coerce.number().int(WORKERS_MESSAGE).min(1, WORKERS_MESSAGE).max(64, WORKERS_MESSAGE)], {
      error: WORKERS_MESSAGE,
    })
    .default(1),
  /**
   * How bytes move: `native`, the C addon's epoll threads (native.ts); `javascript`, the event loop (splice.ts);
   * `auto`, native where the addon is built and every node is an IP address, else javascript.
   */
  dataPath: z.enum(['auto', 'native', 'javascript'], { error: 'must be auto, native or javascript' }).default('auto'),
  drainTimeout: durationMs.default(30_000),
  lease: z.string().min(1).optional(),
  namespace: z.string().min(1).default('default'),
  leaseDuration: durationMs.default(15_000),
  renewDeadline: durationMs.default(10_000),
  retryPeriod: durationMs.default(2000),
  vip: z
    .string()
    .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'must be an IPv4 address with a prefix, like 10.0.0.10/32')
    .optional(),
  vipInterface: z.string().min(1).optional(),
});

export const configSchema = z
  .strictObject({
    /** The control database: alert state and the delivery ledger. */
    stateUrl: postgresUrl.optional(),
    clusters: z.array(clusterSchema).default([]),
    watchdog: watchdogSchema.default(watchdogSchema.parse({})),
    topology: topologySchema.default(topologySchema.parse({})),
    slack: slackSchema.optional(),
    loki: lokiSchema.optional(),
    queue: queueSchema.default({}),
    /**
     * The channels every alert is delivered to. Default: those configured here (slack, loki). A publisher that does
     * not hold the senders' credentials (a deployed watchdog) names them so its ledger rows and messages exist.
     */
    channels: z.array(z.enum(['slack', 'loki'])).optional(),
    proxy: proxySchema.default(proxySchema.parse({})),
    log: z
      .strictObject({
        level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
        format: z.enum(['logfmt', 'json']).default('logfmt'),
      })
      .default({ level: 'info', format: 'logfmt' }),
  })
  .superRefine((config, ctx) => {
    for (const issue of crossFieldIssues(config)) ctx.addIssue({ code: 'custom', ...issue });
    config.clusters.forEach((cluster, i) => {
      const stale = cluster.watchdog?.thresholds?.stale ?? config.watchdog.thresholds.stale;
      const staleAge = cluster.watchdog?.staleAge ?? config.watchdog.staleAge;
      if (stale > 0 && staleAge === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: cluster.watchdog?.thresholds?.stale !== undefined ? ['clusters', i, 'watchdog', 'staleAge'] : ['watchdog', 'staleAge'],
          message: 'required when a stale threshold is set (how old a connection must be to count as stale, like 10m)',
        });
      }
    });
    if (config.clusters.length === 0 && config.watchdog.thresholds.stale > 0 && config.watchdog.staleAge === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['watchdog', 'staleAge'],
        message: 'required when a stale threshold is set (how old a connection must be to count as stale, like 10m)',
      });
    }
    if (config.loki?.bearerToken && (config.loki.username || config.loki.password)) {
      ctx.addIssue({ code: 'custom', path: ['loki'], message: 'give either bearerToken or username/password, not both' });
    }
    if (config.proxy.vip && !config.proxy.vipInterface) {
      ctx.addIssue({
        code: 'custom',
        path: ['proxy', 'vipInterface'],
        message: 'required with proxy.vip (the interface that carries it, like eth0)',
      });
    }
    if (config.proxy.vip && !config.proxy.lease) {
      ctx.addIssue({
        code: 'custom',
        path: ['proxy', 'lease'],
        message: 'required with proxy.vip: only the holder of the lease may carry the address',
      });
    }
    if (config.proxy.renewDeadline >= config.proxy.leaseDuration) {
      ctx.addIssue({ code: 'custom', path: ['proxy', 'renewDeadline'], message: 'must be shorter than proxy.leaseDuration' });
    }
  });

/** The raw shape written in a YAML file, env or flags (before defaults and conversions). */
export type RawConfig = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type ClusterConfig = Config['clusters'][number];
export type NodeConfig = ClusterConfig['nodes'][number];
export type WatchdogSettings = Config['watchdog'];
export type TopologySettings = Config['topology'];
export type ProxySettings = Config['proxy'];
export type SlackSettings = NonNullable<Config['slack']>;
export type LokiSettings = NonNullable<Config['loki']>;
