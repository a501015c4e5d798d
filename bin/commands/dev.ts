/**
 * `pgwarden dev` (= `npm start`): the whole system on this machine. With no cluster configured it starts an
 * embedded demo cluster (primary + 2 replicas) and a separate embedded control database under `.pgwarden/`,
 * an SQS-compatible queue per channel on loopback, every scheduled handler on its deployed schedule, the
 * senders fed as real SQS events, and the HA proxy on loopback. Ctrl-C stops all of it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { schedulesFor } from '../../infra/schedules-config.ts';
import { type Channel, createControlDb } from '../../shared/alerts/index.ts';
import { type ClusterConfig, type Config, parseDuration } from '../../shared/config/index.ts';
import { type Cluster, migrate } from '../../shared/db/index.ts';
import { MIGRATIONS, NO_CHANNEL_WARNING } from '../../shared/delivery/index.ts';
import { type EmbeddedCluster, freePort, reachableByPostgresUser, startEmbeddedCluster } from '../../shared/embedded/index.ts';
import { createLineLogger, type Logger } from '../../shared/log/index.ts';
import type { ProxyService } from '../../shared/proxy/index.ts';
import { describeError } from '../../shared/redact/index.ts';
import {
  type ConsoleSink,
  createDevView,
  type DevView,
  type FunctionHandler,
  LOCAL_SQS_CREDENTIALS,
  type QueueHandler,
  runScenario,
  SCENARIOS,
  type ScenarioName,
  startConsoleSink,
  startDevRuntime,
  startLocalQueues,
} from '../../shared/runtime/index.ts';
import {
  CliExit,
  type CommonOptions,
  durationFlag,
  EXIT_USAGE,
  intFlag,
  loadCliConfig,
  type NotifyOptions,
  notifyOverrides,
  runCommand,
  withCommonOptions,
  withNotifyOptions,
} from '../cli.ts';

interface DevOptions extends CommonOptions, NotifyOptions {
  dataDir: string;
  fresh?: boolean;
  scenario?: string;
  proxy: boolean;
  rwPort?: string;
  roPort?: string;
  apiPort?: string;
  hold?: string;
  kubeconfig?: string;
}

/** One `pgwarden dev` per data folder: a pid lock, taken over when its owner is gone. */
function takeLock(file: string): void {
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, 'utf8').trim());
    let alive = false;
    try {
      if (pid > 0) process.kill(pid, 0);
      alive = pid > 0;
    } catch {
      alive = false;
    }
    if (alive && pid !== process.pid) {
      throw new CliExit(EXIT_USAGE, `another pgwarden dev (pid ${pid}) uses ${path.dirname(file)}; stop it or give --data-dir`);
    }
  }
  writeFileSync(file, String(process.pid));
}

/** Sets what the deployed functions read (linked secrets, queue URLs, the SQS endpoint) before they load. */
function exposeToFunctions(
  config: Config,
  clusters: ClusterConfig[],
  queues: { endpoint: string; queueUrls: Record<string, string> },
  channels: Channel[],
) {
  const link = (name: string, value: string | undefined) => {
    if (value) process.env[`SST_RESOURCE_${name}`] = JSON.stringify({ type: 'sst.sst.Secret', value });
  };
  process.env.SST_RESOURCE_App = JSON.stringify({ name: 'pgwarden', stage: 'local' });
  link('StateUrl', config.stateUrl);
  link('ClusterUrls', JSON.stringify({ clusters, watchdog: config.watchdog, topology: config.topology }));
  link('SlackWebhookUrl', config.slack?.webhookUrl);
  link('LokiUrl', config.loki?.url);
  link('LokiBearerToken', config.loki?.bearerToken);
  if (config.loki?.orgId) process.env.PGWARDEN_LOKI_ORG_ID = config.loki.orgId;
  if (config.loki?.labels && Object.keys(config.loki.labels).length > 0) {
    process.env.PGWARDEN_LOKI_LABELS = Object.entries(config.loki.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  }
  if (queues.queueUrls.slack) process.env.PGWARDEN_QUEUE_URL_SLACK = queues.queueUrls.slack;
  if (queues.queueUrls.loki) process.env.PGWARDEN_QUEUE_URL_LOKI = queues.queueUrls.loki;
  process.env.PGWARDEN_CHANNELS = channels.join(',');
  // The emulator's queue URLs name sqs.<region>.localhost; the same host as endpoint keeps the SDK from warning.
  process.env.AWS_ENDPOINT_URL_SQS = queues.endpoint.replace('127.0.0.1', 'sqs.us-east-1.localhost');
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = LOCAL_SQS_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = LOCAL_SQS_CREDENTIALS.secretAccessKey;
  // Handlers log JSON through Powertools; the view says what matters, so they only speak up for warnings.
  if (config.log.level !== 'debug') process.env.PGWARDEN_LOG_LEVEL = 'warn';
  // They also write CloudWatch metrics (EMF JSON lines) to stdout, which nothing collects here: off, unless the
  // caller set POWERTOOLS_METRICS_DISABLED=false to see them (Powertools reads it when a handler loads).
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  delete process.env.PGWARDEN_URLS;
  delete process.env.PGWARDEN_CONFIG;
}

type Cleanups = Array<() => Promise<void>>;

/** The data folder, moved under the temp dir when the postgres OS user cannot reach it, emptied with `--fresh`, locked. */
async function prepareDataDir(options: DevOptions, view: DevView): Promise<{ dataDir: string; lockFile: string }> {
  let dataDir = path.resolve(options.dataDir);
  if (!reachableByPostgresUser(dataDir)) {
    const fallback = path.join(tmpdir(), `pgwarden-dev-${Buffer.from(dataDir).toString('base64url').slice(-24)}`);
    view.warn(`${dataDir} is not reachable by the postgres OS user (a parent folder is private); using ${fallback}`);
    dataDir = fallback;
  }
  if (options.fresh) await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  const lockFile = path.join(dataDir, 'dev.lock');
  takeLock(lockFile);
  return { dataDir, lockFile };
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
function stopOnSignal(view: DevView, dataDir: string): Promise<void> {
  let stopRequested: () => void = () => {};
  const stopping = new Promise<void>((resolve) => {
    stopRequested = resolve;
  });
  let stopCount = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    stopCount++;
    if (stopCount > 1) {
      view.warn('second signal: exiting now');
      process.exit(130);
    }
    view.info(`${signal}: stopping (the cluster's data stays in ${dataDir})`);
    stopRequested();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return stopping;
}

/** The configured clusters, or the embedded demo cluster when there is none. */
async function startClusters(
  base: Config,
  dataDir: string,
  logger: Logger,
  view: DevView,
  cleanups: Cleanups,
): Promise<{ demo: EmbeddedCluster | undefined; clusters: ClusterConfig[] }> {
  if (base.clusters.length > 0) return { demo: undefined, clusters: base.clusters };
  view.info('no cluster configured: starting the embedded demo cluster (primary + 2 streaming replicas)');
  const demo = await startEmbeddedCluster({
    baseDir: path.join(dataDir, 'cluster'),
    persistent: true,
    replicas: 2,
    // Small enough that the saturation scenario reaches every level quickly.
    settings: { max_connections: 40 },
    logger,
  });
  cleanups.push(() => demo.close());
  return { demo, clusters: [{ name: 'demo', nodes: demo.nodes.map((node) => ({ name: node.name, url: demo.url(node) })) }] };
}

/** The configured control database, or an embedded one, migrated. */
async function startControlDb(
  base: Config,
  dataDir: string,
  logger: Logger,
  cleanups: Cleanups,
): Promise<{ stateUrl: string; stateDb: Cluster }> {
  let stateUrl = base.stateUrl;
  if (!stateUrl) {
    const control = await startEmbeddedCluster({ baseDir: path.join(dataDir, 'control'), persistent: true, replicas: 0, logger });
    cleanups.push(() => control.close());
    stateUrl = control.url(control.primary());
  }
  const stateDb = createControlDb(stateUrl, { applicationName: 'pgwarden-dev', logger });
  cleanups.push(() => stateDb.close());
  await migrate(stateDb, MIGRATIONS, 'up', { logger });
  return { stateUrl, stateDb };
}

/** With no channel configured, a local Slack stand-in that prints what it receives, and the config pointing at it. */
async function startSinkWithoutChannels(
  config: Config,
  view: DevView,
  cleanups: Cleanups,
): Promise<{ config: Config; sink: ConsoleSink | undefined }> {
  if (config.slack || config.loki) return { config, sink: undefined };
  const sink = await startConsoleSink((text) => view.sink(text));
  cleanups.push(() => sink.close());
  // Once, at start, as a warning: these alerts reach nobody but this terminal (issue 13).
  view.warn(`${NO_CHANNEL_WARNING} (here: a local Slack stand-in prints them)`);
  return { config: { ...config, slack: { webhookUrl: sink.url, timeout: 10_000 } }, sink };
}

/**
 * The HA proxy on loopback, in front of the first cluster. The API's mutations fail closed without a token: a
 * local run gets a fresh one (`generatedToken`), kept in the owner-only dev.json rather than printed (a configured
 * token is used as given and never copied there).
 */
async function startDevProxy(
  config: Config,
  clusters: ClusterConfig[],
  options: DevOptions,
  dataDir: string,
  logger: Logger,
  view: DevView,
  cleanups: Cleanups,
): Promise<{ proxy: ProxyService; generatedToken: string | undefined }> {
  const generatedToken = config.proxy.apiToken ? undefined : randomBytes(24).toString('base64url');
  const { startProxyFromConfig } = await import('../../shared/proxy/index.ts');
  const proxySettings = {
    ...config.proxy,
    listenHost: '127.0.0.1',
    apiHost: '127.0.0.1',
    rwPort: intFlag('rw-port', options.rwPort) ?? (await freePort()),
    roPort: intFlag('ro-port', options.roPort) ?? (await freePort()),
    apiPort: intFlag('api-port', options.apiPort) ?? (await freePort()),
    apiToken: config.proxy.apiToken ?? generatedToken,
    lease: undefined,
    vip: undefined,
  };
  const proxy = await startProxyFromConfig({ ...config, clusters: [clusters[0] as ClusterConfig], proxy: proxySettings }, { logger });
  cleanups.push(() => proxy.stop());
  view.info(
    `proxy: read-write 127.0.0.1:${proxy.ports.rw}, read-only 127.0.0.1:${proxy.ports.ro}, API http://127.0.0.1:${proxy.ports.api}/topology` +
      (generatedToken ? ` (drain/undrain token: proxy.apiToken in ${path.join(dataDir, 'dev.json')})` : ''),
  );
  return { proxy, generatedToken };
}

async function runDev(options: DevOptions): Promise<number> {
  if (options.scenario && !SCENARIOS.includes(options.scenario as ScenarioName)) {
    throw new CliExit(EXIT_USAGE, `--scenario: unknown "${options.scenario}" (one of ${SCENARIOS.join(', ')})`);
  }
  const hold = durationFlag('hold', options.hold);
  const holdMs = hold === undefined ? undefined : parseDuration(hold);
  const base = loadCliConfig(options, notifyOverrides(options));
  const logger = createLineLogger({ level: base.log.level, format: base.log.format });
  const view = createDevView({ color: process.stdout.isTTY === true });
  const { dataDir, lockFile } = await prepareDataDir(options, view);

  const cleanups: Cleanups = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) {
      await step().catch((error: unknown) => logger.warn('cleanup step failed', { error: describeError(error) }));
    }
    cleanups.length = 0;
    await rm(lockFile, { force: true });
    await rm(path.join(dataDir, 'dev.json'), { force: true });
  };
  const stopping = stopOnSignal(view, dataDir);

  try {
    const started = Date.now();
    const { demo, clusters } = await startClusters(base, dataDir, logger, view, cleanups);
    const { stateUrl, stateDb } = await startControlDb(base, dataDir, logger, cleanups);
    const { config, sink } = await startSinkWithoutChannels({ ...base, clusters, stateUrl }, view, cleanups);
    const channels: Channel[] = [...(config.slack ? (['slack'] as const) : []), ...(config.loki ? (['loki'] as const) : [])];
    const queues = await startLocalQueues({ channels, maxReceiveCount: 5, visibilityTimeoutSeconds: 30 });
    cleanups.push(() => queues.close());
    exposeToFunctions(config, clusters, queues, channels);

    // The very handlers Lambda runs, loaded after their environment is set (they read it once, at cold start).
    const load = async (name: string) => (await import(`../../functions/${name}.ts`)).handler as FunctionHandler;
    const scheduled = { watchdog: await load('watchdog'), topology: await load('topology'), sweep: await load('sweep') };
    const senders: Partial<Record<string, QueueHandler>> = {};
    for (const channel of channels) senders[channel] = (await load(`send-${channel}`)) as unknown as QueueHandler;

    const { proxy, generatedToken } = options.proxy
      ? await startDevProxy(config, clusters, options, dataDir, logger, view, cleanups)
      : { proxy: undefined, generatedToken: undefined };

    const runtime = startDevRuntime({
      scheduled,
      senders,
      schedules: schedulesFor('local', process.env),
      queues,
      stateDb,
      view,
      logger,
    });
    cleanups.push(() => runtime.stop());

    // What tests and scripts need to find this run (the URL holds the local password: owner-only file).
    writeFileSync(
      path.join(dataDir, 'dev.json'),
      JSON.stringify({
        pid: process.pid,
        stateUrl,
        clusters,
        proxy: proxy ? { ...proxy.ports, ...(generatedToken ? { apiToken: generatedToken } : {}) } : null,
        sinkUrl: sink?.url ?? null,
        queues: queues.queueUrls,
      }),
      { mode: 0o600 },
    );
    await Promise.race([runtime.firstRound, stopping]);
    view.info(`first checks done ${((Date.now() - started) / 1000).toFixed(1)} s after start; Ctrl-C stops everything`);

    if (options.scenario && demo) {
      await Promise.race([
        runScenario(options.scenario as ScenarioName, { cluster: demo, runtime, view, sink, stopping, holdMs }).catch((error: unknown) =>
          view.warn(`scenario ${options.scenario} failed: ${describeError(error)}`),
        ),
        stopping,
      ]);
    } else if (options.scenario) {
      view.warn('scenarios drive the embedded demo cluster; with a configured cluster they do nothing');
    }
    await stopping;
  } finally {
    await cleanup();
    view.info('stopped: no process, port or lock left behind');
  }
  return 0;
}

export function registerDev(program: Command): void {
  const command = program
    .command('dev')
    .description('run the whole system locally (embedded cluster, queue, schedules, senders, proxy)')
    .option('--data-dir <dir>', 'where the embedded clusters keep their data', '.pgwarden')
    .option('--fresh', 'rebuild the embedded clusters from scratch')
    .option('--scenario <name>', `drive the demo cluster into a situation: ${SCENARIOS.join(', ')}`)
    .option('--hold <duration>', 'how long the saturation scenario holds its connections (and the outage lasts)')
    .option('--no-proxy', 'do not start the HA proxy')
    .option('--rw-port <port>', 'proxy read-write port (default: a free port)')
    .option('--ro-port <port>', 'proxy read-only port (default: a free port)')
    .option('--api-port <port>', 'proxy API port (default: a free port)');
  withNotifyOptions(withCommonOptions(command)).action(async (options: DevOptions) => {
    await runCommand(() => runDev(options));
    // Handler modules keep warm pools (as in Lambda); everything was closed above, so leave now.
    process.exit(process.exitCode ?? 0);
  });
}
