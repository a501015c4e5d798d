/**
 * `pgwarden watchdog`: checks the connections of every node of the fleet once (or every `--interval`), sends
 * alerts through the lifecycle, prints one line per node (or, with `--json`, one JSON document on stdout).
 * Exit 0 when every node was checked, 1 when any could not be or when the run has `problems` (the alert state or
 * publishing failed; `--json` lists them), 2 bad usage.
 */
import type { Command } from 'commander';
import { createMemoryAlertStateStore } from '../../shared/alerts/index.ts';
import type { ClusterConfig, Config, WatchdogSettings } from '../../shared/config/index.ts';
import { watchdogSettingsFor } from '../../shared/config/index.ts';
import type { Logger } from '../../shared/log/index.ts';
import { redact } from '../../shared/redact/index.ts';
import { runWatchdog, toWatchdogJson, type WatchdogResult } from '../../shared/watchdog/index.ts';
import {
  CliExit,
  type CommonOptions,
  createCliLogger,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  intervalFlag,
  loadCliConfig,
  type NotifyOptions,
  notifyOverrides,
  openAlerting,
  printJson,
  runCommand,
  runRounds,
  withCommonOptions,
  withNotifyOptions,
} from '../cli.ts';

interface WatchdogFlags extends CommonOptions, NotifyOptions {
  once?: boolean;
  interval?: string;
  dryRun?: boolean;
  forceNotification?: boolean;
  thresholdTotal?: string;
  thresholdActive?: string;
  thresholdIdle?: string;
  thresholdIdleInTransaction?: string;
  thresholdStale?: string;
  staleAge?: string;
  levels?: string;
  for?: string;
  repeatInterval?: string;
  concurrency?: string;
}

/** Registers `pgwarden watchdog`. */
export function registerWatchdog(program: Command): void {
  const command = program
    .command('watchdog')
    .description('check the connections of every node: counts, saturation of usable slots, reachability; alert on breaches')
    .option('--once', 'check once and exit (the default)')
    .option('--interval <duration>', 'check again every interval (like 30s) until interrupted')
    .option('--dry-run', 'check and decide, send nothing: print "[dry-run] would send: …" per alert')
    .option('--force-notification', 'also send one test alert per cluster, whatever the thresholds say')
    .option('--json', 'print one JSON document on stdout (logs stay on stderr)')
    .option('--threshold-total <n>', 'alert when a node has this many connections (0 = off)')
    .option('--threshold-active <n>', 'alert on this many active connections (0 = off)')
    .option('--threshold-idle <n>', 'alert on this many idle connections (0 = off)')
    .option('--threshold-idle-in-transaction <n>', 'alert on this many idle-in-transaction connections (0 = off)')
    .option('--threshold-stale <n>', 'alert on this many stale connections (0 = off; needs --stale-age)')
    .option('--stale-age <duration>', 'a connection older than this is stale (like 10m)')
    .option('--levels <percents>', 'saturation levels in percent of usable connections: info,warning,critical (like 75,85,95)')
    .option('--for <duration>', 'a breach must hold this long before it fires (default 0: at once)')
    .option('--repeat-interval <duration>', 'repeat a firing alert at most this often (default 4h)')
    .option('--concurrency <n>', 'nodes checked at once (default 64)');
  withNotifyOptions(withCommonOptions(command)).action((flags: WatchdogFlags) => runCommand(() => watchdog(flags)));
}

/** The threshold flags by config key (raw strings; undefined when not given). */
function thresholdFlags(flags: WatchdogFlags): Record<keyof WatchdogSettings['thresholds'], string | undefined> {
  return {
    total: flags.thresholdTotal,
    active: flags.thresholdActive,
    idle: flags.thresholdIdle,
    idleInTransaction: flags.thresholdIdleInTransaction,
    stale: flags.thresholdStale,
  };
}

/** The command's flags in config shape: raw strings, so the schema reports every bad value at once with its path. */
function overridesFrom(flags: WatchdogFlags): Record<string, unknown> {
  return {
    ...notifyOverrides(flags),
    watchdog: {
      thresholds: thresholdFlags(flags),
      staleAge: flags.staleAge,
      levels: flags.levels,
      for: flags.for,
      repeatInterval: flags.repeatInterval,
      concurrency: flags.concurrency,
    },
  };
}

/**
 * Per-cluster settings with the flags on top: a cluster's own overrides in the file beat the file's global
 * settings, but flags beat both (precedence flags > env > file).
 */
function settingsResolver(config: Config, flags: WatchdogFlags): (cluster: ClusterConfig) => WatchdogSettings {
  const global = config.watchdog;
  const given = thresholdFlags(flags);
  return (cluster) => {
    const settings = watchdogSettingsFor(config, cluster);
    const thresholds = { ...settings.thresholds };
    for (const [key, value] of Object.entries(given) as Array<[keyof typeof thresholds, string | undefined]>) {
      if (value !== undefined) thresholds[key] = global.thresholds[key];
    }
    return {
      ...settings,
      thresholds,
      staleAge: flags.staleAge !== undefined ? global.staleAge : settings.staleAge,
      levels: flags.levels !== undefined ? global.levels : settings.levels,
      for: flags.for !== undefined ? global.for : settings.for,
      repeatInterval: flags.repeatInterval !== undefined ? global.repeatInterval : settings.repeatInterval,
    };
  };
}

/**
 * In plain mode the per-node lines and `[dry-run] would send: …` are the command's output: info records go to
 * stdout as bare lines; warnings and errors stay log lines on stderr.
 */
function reportLogger(stderr: Logger): Logger {
  return {
    debug: (message, fields) => stderr.debug(message, fields),
    info: (message) => process.stdout.write(`${redact(message)}\n`),
    warn: (message, fields) => stderr.warn(message, fields),
    error: (message, fields) => stderr.error(message, fields),
    child: () => reportLogger(stderr),
  };
}

function exitCodeOf(result: WatchdogResult): number {
  return result.checks.every((check) => check.stats !== null) && result.problems.length === 0 ? EXIT_OK : EXIT_FAILED;
}

async function watchdog(flags: WatchdogFlags): Promise<number> {
  const intervalMs = intervalFlag(flags);

  const config = loadCliConfig(flags, overridesFrom(flags));
  if (config.clusters.length === 0) {
    throw new CliExit(EXIT_USAGE, 'no nodes to check: give --url URL (repeatable), PGWARDEN_URLS, or clusters in --config');
  }
  const logger = createCliLogger(config);
  const dryRun = flags.dryRun ?? false;
  const { publisher, stateDb, close } = await openAlerting(config, logger, dryRun);
  // No control database, several rounds: keep the lifecycle in memory, so `for` and `repeatInterval` hold across
  // rounds instead of every breach being sent every round (issue 13). One round needs no memory.
  const alertStore = !stateDb && !dryRun && intervalMs !== undefined ? createMemoryAlertStateStore() : undefined;

  const round = async (): Promise<number> => {
    const result = await runWatchdog({
      clusters: config.clusters,
      settings: settingsResolver(config, flags),
      stateDb,
      alertStore,
      publisher,
      logger: flags.json ? logger : reportLogger(logger),
      clock: () => new Date(),
      dryRun,
      forceNotification: flags.forceNotification ?? false,
    });
    if (flags.json) printJson(toWatchdogJson(result));
    return exitCodeOf(result);
  };

  try {
    return await runRounds(round, intervalMs);
  } finally {
    await close();
  }
}
