import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { registerSecret } from '../redact/index.ts';
import { crossFieldIssues } from './cross-checks.ts';
import { ConfigError, type ConfigProblem } from './errors.ts';
import {
  type ClusterConfig,
  type Config,
  configSchema,
  type NodeConfig,
  type RawConfig,
  type TopologySettings,
  type WatchdogSettings,
} from './schema.ts';

type Json = Record<string, unknown>;

/** `name=postgres://…` or a bare URL (named after its host and port). */
export function parseNodeArg(text: string): { name: string; url: string } {
  const eq = text.indexOf('=');
  const scheme = text.indexOf('://');
  if (eq > 0 && (scheme === -1 || eq < scheme)) return { name: text.slice(0, eq), url: text.slice(eq + 1) };
  let name = 'node';
  try {
    const url = new URL(text);
    name = `${url.hostname}-${url.port || '5432'}`.replace(/[^A-Za-z0-9_.-]/g, '-');
  } catch {
    // the schema reports the bad URL with its path
  }
  return { name, url: text };
}

const list = (value: string) =>
  value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);

const keyValues = (value: string) =>
  Object.fromEntries(
    list(value).map((pair) => {
      const eq = pair.indexOf('=');
      return eq === -1 ? [pair, ''] : [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
    }),
  );

const bool = (value: string) => ['1', 'true', 'yes', 'on'].includes(value.toLowerCase());

/** Every `PGWARDEN_*` variable and where it lands in the config. */
export const ENV_VARS: Record<string, { path: string[]; convert?: (value: string) => unknown; doc: string }> = {
  PGWARDEN_STATE_URL: { path: ['stateUrl'], doc: 'control database URL (alert state, delivery ledger)' },
  PGWARDEN_SLACK_WEBHOOK_URL: { path: ['slack', 'webhookUrl'], doc: 'Slack incoming webhook URL' },
  PGWARDEN_LOKI_URL: { path: ['loki', 'url'], doc: 'Loki base URL (…/loki/api/v1/push is appended)' },
  PGWARDEN_LOKI_LABELS: { path: ['loki', 'labels'], convert: keyValues, doc: 'static Loki labels, k=v,k=v' },
  PGWARDEN_LOKI_ORG_ID: { path: ['loki', 'orgId'], doc: 'Loki tenant (X-Scope-OrgID)' },
  PGWARDEN_LOKI_BEARER_TOKEN: { path: ['loki', 'bearerToken'], doc: 'Loki bearer token' },
  PGWARDEN_LOKI_USERNAME: { path: ['loki', 'username'], doc: 'Loki basic-auth user' },
  PGWARDEN_LOKI_PASSWORD: { path: ['loki', 'password'], doc: 'Loki basic-auth password' },
  PGWARDEN_LOKI_STRUCTURED_METADATA: {
    path: ['loki', 'structuredMetadata'],
    doc: 'auto (send, fall back when refused), on or off: structured metadata on Loki entries',
  },
  PGWARDEN_QUEUE_URL: { path: ['queue', 'url'], doc: 'SQS alerts queue URL' },
  PGWARDEN_QUEUE_URL_SLACK: { path: ['queue', 'urls', 'slack'], doc: 'SQS queue of the Slack sender' },
  PGWARDEN_QUEUE_URL_LOKI: { path: ['queue', 'urls', 'loki'], doc: 'SQS queue of the Loki sender' },
  PGWARDEN_DLQ_URL: { path: ['queue', 'dlqUrl'], doc: 'SQS dead-letter queue URL' },
  PGWARDEN_CHANNELS: { path: ['channels'], convert: list, doc: 'channels alerts go to, like slack,loki (default: those configured)' },
  PGWARDEN_THRESHOLD_TOTAL: { path: ['watchdog', 'thresholds', 'total'], doc: 'total connections threshold (0 = off)' },
  PGWARDEN_THRESHOLD_ACTIVE: { path: ['watchdog', 'thresholds', 'active'], doc: 'active connections threshold' },
  PGWARDEN_THRESHOLD_IDLE: { path: ['watchdog', 'thresholds', 'idle'], doc: 'idle connections threshold' },
  PGWARDEN_THRESHOLD_IDLE_IN_TRANSACTION: { path: ['watchdog', 'thresholds', 'idleInTransaction'], doc: 'idle-in-transaction threshold' },
  PGWARDEN_THRESHOLD_STALE: { path: ['watchdog', 'thresholds', 'stale'], doc: 'stale connections threshold' },
  PGWARDEN_STALE_AGE: { path: ['watchdog', 'staleAge'], doc: 'age after which a connection is stale' },
  PGWARDEN_LEVELS: { path: ['watchdog', 'levels'], doc: 'saturation levels in percent, like 75,85,95' },
  PGWARDEN_FOR: { path: ['watchdog', 'for'], doc: 'how long a breach must hold before it fires' },
  PGWARDEN_REPEAT_INTERVAL: { path: ['watchdog', 'repeatInterval'], doc: 'repeat a firing alert at most this often' },
  PGWARDEN_NAMESPACE: { path: ['topology', 'namespace'], doc: 'Kubernetes namespace of the endpoints' },
  PGWARDEN_RW_SERVICE: { path: ['topology', 'rwService'], doc: 'read-write Service name' },
  PGWARDEN_RO_SERVICE: { path: ['topology', 'roService'], doc: 'read-only Service name' },
  PGWARDEN_ENDPOINTS_API: { path: ['topology', 'endpointsApi'], doc: 'slices or endpoints' },
  PGWARDEN_MAX_LAG: { path: ['topology', 'maxLag'], doc: 'replicas lagging more leave the read-only endpoints' },
  PGWARDEN_KUBECONFIG: { path: ['topology', 'kubeconfig'], doc: 'kubeconfig file (else in-cluster or KUBECONFIG)' },
  PGWARDEN_KUBECONFIG_TEXT: { path: ['topology', 'kubeconfigText'], doc: 'a kubeconfig document itself (the Kubeconfig secret)' },
  PGWARDEN_PROXY_API_TOKEN: { path: ['proxy', 'apiToken'], doc: 'bearer token for proxy API mutations; none: 403' },
  PGWARDEN_PROXY_API_HOST: { path: ['proxy', 'apiHost'], doc: 'address the proxy API binds (default 127.0.0.1)' },
  PGWARDEN_PROXY_API_PORT: { path: ['proxy', 'apiPort'], doc: 'proxy API port (default 8008)' },
  PGWARDEN_PROXY_RW_PORT: { path: ['proxy', 'rwPort'], doc: 'read-write listener port (default 5432)' },
  PGWARDEN_PROXY_RO_PORT: { path: ['proxy', 'roPort'], doc: 'read-only listener port (default 5433)' },
  PGWARDEN_PROXY_MAX_CLIENTS: { path: ['proxy', 'maxClients'], doc: 'most client connections at once' },
  PGWARDEN_PROXY_WORKERS: { path: ['proxy', 'workers'], doc: 'data-plane threads sharing the listeners, or auto (one per CPU); default 1' },
  PGWARDEN_PROXY_DATA_PATH: {
    path: ['proxy', 'dataPath'],
    doc: 'native (the C addon), javascript, or auto: native where it is built and the nodes are IP addresses; default auto',
  },
  PGWARDEN_PROXY_LEASE: { path: ['proxy', 'lease'], doc: 'Kubernetes Lease for leader election' },
  PGWARDEN_PROXY_NAMESPACE: { path: ['proxy', 'namespace'], doc: 'namespace of the Lease' },
  PGWARDEN_PROXY_VIP: { path: ['proxy', 'vip'], doc: 'floating address held by the leader, like 10.0.0.10/32' },
  PGWARDEN_PROXY_VIP_INTERFACE: { path: ['proxy', 'vipInterface'], doc: 'interface that carries the floating address' },
  PGWARDEN_LOG_LEVEL: { path: ['log', 'level'], doc: 'debug, info, warn or error' },
  PGWARDEN_LOG_FORMAT: { path: ['log', 'format'], doc: 'logfmt or json' },
  PGWARDEN_ROFALLBACK: {
    path: ['topology', 'roFallbackToPrimary'],
    convert: bool,
    doc: 'route read-only to the primary when no replica qualifies',
  },
};

/** `PGWARDEN_URLS` (comma-separated nodes, `name=URL` or bare) and `PGWARDEN_CLUSTER` make a one-cluster fleet. */
function envToRaw(env: NodeJS.ProcessEnv): Json {
  const raw: Json = {};
  for (const [name, spec] of Object.entries(ENV_VARS)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    setPath(raw, spec.path, spec.convert ? spec.convert(value) : value);
  }
  const urls = env.PGWARDEN_URLS ?? env.PGWARDEN_URL;
  if (urls) {
    raw.clusters = [{ name: env.PGWARDEN_CLUSTER ?? 'default', nodes: list(urls).map(parseNodeArg) }];
  }
  return raw;
}

function setPath(target: Json, path: string[], value: unknown): void {
  let cursor = target;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      cursor[key] = value;
      return;
    }
    if (typeof cursor[key] !== 'object' || cursor[key] === null) cursor[key] = {};
    cursor = cursor[key] as Json;
  });
}

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge key by key; arrays and scalars from `over` replace. `undefined` never overrides. */
export function mergeConfig(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? mergeConfig(out[key] as Json, value) : value;
  }
  return out;
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(root)';
}

function problemsOf(error: z.ZodError, source: string): ConfigProblem[] {
  return error.issues.map((issue) => {
    let message = issue.message;
    if (issue.code === 'unrecognized_keys')
      message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    return { path: formatPath(issue.path), message, source };
  });
}

export interface LoadConfigOptions {
  /** A YAML (or JSON) file. Default: `PGWARDEN_CONFIG` when set. */
  file?: string;
  /** A config document given as text (a secret's value) instead of a file. */
  text?: string;
  /** What to call `text` in error messages. */
  source?: string;
  env?: NodeJS.ProcessEnv;
  /** What the command line said (highest precedence), in the file's shape. */
  overrides?: RawConfig | Json;
}

/**
 * Reads the config once: defaults < file < env (`PGWARDEN_*`) < flags, validated as a whole.
 * Throws a `ConfigError` that lists every problem with its path; registers every secret for redaction.
 *
 * @example loadConfig({ file: 'pgwarden.yaml', overrides: { watchdog: { levels: '80,90,95' } } })
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.text === undefined ? (options.file ?? env.PGWARDEN_CONFIG) : (options.source ?? 'config text');
  let fromFile: Json = {};
  if (file) {
    let text: string;
    try {
      text = options.text ?? readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError([
        {
          path: '(file)',
          message: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
          source: file,
        },
      ]);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (error) {
      throw new ConfigError([{ path: '(file)', message: `not valid YAML: ${(error as Error).message.split('\n')[0]}`, source: file }]);
    }
    if (parsed !== null && parsed !== undefined && !isPlainObject(parsed)) {
      throw new ConfigError([{ path: '(root)', message: 'the file must hold a mapping (key: value)', source: file }]);
    }
    fromFile = (parsed as Json | null) ?? {};
  }
  const merged = mergeConfig(mergeConfig(fromFile, envToRaw(env)), (options.overrides ?? {}) as Json);
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    // The schema's cross-field checks did not run (a field failed first): run them on the input, so every problem
    // is listed at once.
    const problems = problemsOf(result.error, file ?? 'config');
    const seen = new Set(problems.map((problem) => `${problem.path}\n${problem.message}`));
    for (const issue of crossFieldIssues(merged)) {
      const problem = { path: formatPath(issue.path), message: issue.message, source: file ?? 'config' };
      if (!seen.has(`${problem.path}\n${problem.message}`)) problems.push(problem);
    }
    throw new ConfigError(problems);
  }
  registerConfigSecrets(result.data);
  return result.data;
}

/** Registers every password, token and webhook in a config so no log or error can print them. */
export function registerConfigSecrets(config: Config): void {
  const fromUrl = (text: string | undefined) => {
    if (!text) return;
    try {
      const url = new URL(text);
      if (url.password) registerSecret(decodeURIComponent(url.password));
    } catch {
      // not a URL
    }
  };
  fromUrl(config.stateUrl);
  for (const cluster of config.clusters) for (const node of cluster.nodes) fromUrl(node.url);
  if (config.slack) {
    registerSecret(config.slack.webhookUrl);
    registerSecret(new URL(config.slack.webhookUrl).pathname);
  }
  if (config.loki) {
    registerSecret(config.loki.bearerToken);
    registerSecret(config.loki.password);
    fromUrl(config.loki.url);
  }
  registerSecret(config.proxy.apiToken);
}

/** The watchdog settings of one cluster: global settings with the cluster's overrides on top. */
export function watchdogSettingsFor(config: Config, cluster: ClusterConfig): WatchdogSettings {
  const own = cluster.watchdog ?? {};
  return {
    ...config.watchdog,
    ...Object.fromEntries(Object.entries(own).filter(([key, value]) => key !== 'thresholds' && value !== undefined)),
    thresholds: {
      ...config.watchdog.thresholds,
      ...Object.fromEntries(Object.entries(own.thresholds ?? {}).filter(([, v]) => v !== undefined)),
    },
  } as WatchdogSettings;
}

/** The topology settings of one cluster: global settings with the cluster's overrides on top. */
export function topologySettingsFor(config: Config, cluster: ClusterConfig): TopologySettings {
  const own = cluster.topology ?? {};
  return { ...config.topology, ...Object.fromEntries(Object.entries(own).filter(([, value]) => value !== undefined)) } as TopologySettings;
}

/** Host and port of a node URL (for endpoints, logs and the proxy). */
export function nodeAddress(node: NodeConfig): { host: string; port: number } {
  const url = new URL(node.url);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : 5432 };
}
