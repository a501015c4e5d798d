/**
 * What every `pgwarden` command shares: the common flags, config loading (flags > env > file > defaults),
 * the logger on stderr, and exit codes (0 ok, 1 a check failed or found the cluster unsafe, 2 bad usage/config).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { type AlertPublisher, createControlDb } from '../shared/alerts/index.ts';
import { type Config, ConfigError, loadConfig, mergeConfig, parseDuration, parseNodeArg } from '../shared/config/index.ts';
import type { Cluster } from '../shared/db/index.ts';
import { openAlertPublisher } from '../shared/delivery/index.ts';
import { createLineLogger, type Logger } from '../shared/log/index.ts';
import { describeError } from '../shared/redact/index.ts';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Thrown by a command to end with a given exit code after printing `message` on stderr. */
export class CliExit extends Error {
  override name = 'CliExit';
  readonly exitCode: number;
  constructor(exitCode: number, message = '') {
    super(message);
    this.exitCode = exitCode;
  }
}

export interface CommonOptions {
  config?: string;
  url?: string[];
  cluster?: string;
  stateUrl?: string;
  logLevel?: string;
  logFormat?: string;
  json?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `--config`, `--url` (repeatable), `--cluster`, `--state-url`, `--log-level`, `--log-format`. */
export function withCommonOptions(command: Command): Command {
  return command
    .option('--config <file>', 'YAML config file (also PGWARDEN_CONFIG)')
    .option('--url <url>', "a node of one cluster, 'name=URL' or bare URL (repeatable)", collect)
    .option('--cluster <name>', 'the cluster: names the --url cluster, or picks one from the config')
    .option('--state-url <url>', 'control database URL (also PGWARDEN_STATE_URL)')
    .option('--log-level <level>', 'debug, info, warn or error')
    .option('--log-format <format>', 'logfmt or json');
}

/** Flags shared by the commands that send alerts (watchdog, topology, sweep, requeue). */
export function withNotifyOptions(command: Command): Command {
  return command
    .option('--slack-webhook <url>', 'Slack incoming webhook (also PGWARDEN_SLACK_WEBHOOK_URL)')
    .option('--loki-url <url>', 'Loki base URL (also PGWARDEN_LOKI_URL)')
    .option('--loki-labels <k=v,...>', 'static Loki labels')
    .option('--loki-org-id <tenant>', 'Loki tenant (X-Scope-OrgID)')
    .option('--loki-bearer-token <token>', 'Loki bearer token')
    .option('--queue-url <url>', 'SQS alerts queue (else deliveries are sent directly)');
}

export interface NotifyOptions {
  slackWebhook?: string;
  lokiUrl?: string;
  lokiLabels?: string;
  lokiOrgId?: string;
  lokiBearerToken?: string;
  queueUrl?: string;
}

/** The notify flags in config shape. */
export function notifyOverrides(options: NotifyOptions): Record<string, unknown> {
  const labels = options.lokiLabels
    ? Object.fromEntries(
        options.lokiLabels
          .split(',')
          .filter(Boolean)
          .map((pair) => {
            const eq = pair.indexOf('=');
            return [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
          }),
      )
    : undefined;
  return {
    slack: options.slackWebhook ? { webhookUrl: options.slackWebhook } : undefined,
    loki:
      options.lokiUrl || labels || options.lokiOrgId || options.lokiBearerToken
        ? { url: options.lokiUrl, labels, orgId: options.lokiOrgId, bearerToken: options.lokiBearerToken }
        : undefined,
    queue: options.queueUrl ? { url: options.queueUrl } : undefined,
  };
}

/**
 * Loads the config with the common flags on top of `overrides` (the command's own flags, in config shape).
 * `--url` replaces the file's clusters with one cluster; `--cluster` alone narrows the file's fleet to one.
 */
export function loadCliConfig(options: CommonOptions, overrides: Record<string, unknown> = {}): Config {
  const common: Record<string, unknown> = {
    stateUrl: options.stateUrl,
    log: options.logLevel || options.logFormat ? { level: options.logLevel, format: options.logFormat } : undefined,
  };
  if (options.url && options.url.length > 0) {
    common.clusters = [{ name: options.cluster ?? 'default', nodes: options.url.map(parseNodeArg) }];
  }
  const config = loadConfig({ file: options.config, overrides: mergeConfig(common, overrides) });
  if (options.cluster && !options.url?.length) {
    const chosen = config.clusters.filter((c) => c.name === options.cluster);
    if (chosen.length === 0) {
      throw new CliExit(
        EXIT_USAGE,
        `no cluster named "${options.cluster}" (configured: ${config.clusters.map((c) => c.name).join(', ') || 'none'})`,
      );
    }
    return { ...config, clusters: chosen };
  }
  return config;
}

export function createCliLogger(config: Pick<Config, 'log'>): Logger {
  return createLineLogger({ level: config.log.level, format: config.log.format });
}

/** Prints one JSON document on stdout (and nothing else goes there). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Runs a command body, mapping errors to messages and exit codes. */
export async function runCommand(body: () => Promise<number | undefined>): Promise<void> {
  try {
    const code = await body();
    process.exitCode = code ?? EXIT_OK;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`pgwarden: ${error.message}\n`);
      process.exitCode = EXIT_USAGE;
    } else if (error instanceof CliExit) {
      if (error.message) process.stderr.write(`pgwarden: ${error.message}\n`);
      process.exitCode = error.exitCode;
    } else {
      process.stderr.write(`pgwarden: ${describeError(error)}\n`);
      process.exitCode = EXIT_FAILED;
    }
  }
}

/** Parses a duration flag, or ends with exit 2 naming the flag. */
export function durationFlag(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    parseDuration(value);
  } catch {
    throw new CliExit(EXIT_USAGE, `--${name}: invalid duration "${value}" (like 500ms, 30s, 10m, 1h)`);
  }
  return value;
}

/** Parses an integer flag, or ends with exit 2 naming the flag. */
export function intFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new CliExit(EXIT_USAGE, `--${name}: expected a whole number ≥ 0, got "${value}"`);
  return n;
}

/**
 * Runs `round` once, or — with an interval — again every `intervalMs` until SIGINT/SIGTERM, and returns the
 * last round's exit code. A signal during the wait ends it at once; a signal during a round lets it finish.
 */
export async function runRounds(round: () => Promise<number>, intervalMs: number | undefined): Promise<number> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let code = await round();
    while (intervalMs !== undefined && !stop.signal.aborted) {
      try {
        await sleep(intervalMs, undefined, { signal: stop.signal });
      } catch {
        break;
      }
      code = await round();
    }
    return code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `--once` (the default) or `--interval 30s`: the interval in ms, or undefined for one round; exit 2 on misuse. */
export function intervalFlag(flags: { once?: boolean; interval?: string }): number | undefined {
  if (flags.once && flags.interval) throw new CliExit(EXIT_USAGE, '--once and --interval exclude each other');
  const interval = durationFlag('interval', flags.interval);
  if (interval === undefined) return undefined;
  const ms = parseDuration(interval);
  if (ms <= 0) throw new CliExit(EXIT_USAGE, `--interval: must be above 0, got "${flags.interval}"`);
  return ms;
}

/**
 * What a checking command (watchdog, topology) alerts with: the publisher the config asks for and, unless
 * dry-run, the control database for the alert lifecycle — one pool, shared by both.
 */
export async function openAlerting(
  config: Config,
  logger: Logger,
  dryRun: boolean,
): Promise<{ publisher: AlertPublisher; stateDb: Cluster | undefined; close(): Promise<void> }> {
  const stateDb = config.stateUrl && !dryRun ? createControlDb(config.stateUrl, { applicationName: 'pgwarden', logger }) : undefined;
  const opened = await openAlertPublisher(config, logger, { dryRun, db: stateDb });
  return {
    publisher: opened.publisher,
    stateDb,
    async close() {
      await opened.close();
      await stateDb?.close();
    },
  };
}
