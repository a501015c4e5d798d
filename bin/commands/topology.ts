/**
 * `pgwarden topology`: probes every node of each cluster, verifies exactly one primary, and points the read-write
 * and read-only Kubernetes endpoints at the primary and the healthy replicas (once, or every `--interval`).
 *
 * Output: a line per cluster, or with `--json` one JSON document on stdout per round: the cluster's result
 * object when the fleet has one cluster, `{"clusters":[…]}` when it has several (so a one-cluster script never
 * has to unwrap an array). Exit 0 when every verdict is `ok` and every planned write succeeded, 1 when a cluster is
 * unsafe (`multiple_primaries`, `no_primary`) or an endpoints write failed, 2 for bad usage or config.
 * With no Kubernetes configuration anywhere (no flag, no config, no KUBECONFIG, ~/.kube/config or service
 * account), the command still probes and alerts, and says that endpoints are not written.
 */
import type { Command } from 'commander';
import { type AlertStateStore, createMemoryAlertStateStore, describeWouldSend, formatEventLine } from '../../shared/alerts/index.ts';
import type { ClusterConfig, Config, TopologySettings } from '../../shared/config/index.ts';
import { formatBytes, topologySettingsFor } from '../../shared/config/index.ts';
import { createEndpointsWriterFactory, K8sOptionsError } from '../../shared/k8s/index.ts';
import { createTopologyMonitor, type TopologyResult, type TopologyTarget } from '../../shared/topology/index.ts';
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

interface TopologyFlags extends CommonOptions, NotifyOptions {
  once?: boolean;
  interval?: string;
  dryRun?: boolean;
  namespace?: string;
  rwService?: string;
  roService?: string;
  endpointsApi?: string;
  kubeconfig?: string;
  maxLag?: string;
}

/** Registers `pgwarden topology`. */
export function registerTopology(program: Command): void {
  const command = program
    .command('topology')
    .description('probe every node, verify one primary, point the RW/RO Kubernetes endpoints at the primary and healthy replicas')
    .option('--once', 'probe once and exit (the default)')
    .option('--interval <duration>', 'probe again every interval (like 10s) until interrupted')
    .option('--dry-run', 'probe and plan, read the endpoints to say what would change; write and send nothing')
    .option('--json', 'print one JSON document on stdout per round (logs stay on stderr)')
    .option('--namespace <name>', 'Kubernetes namespace of the endpoints (default "default")')
    .option('--rw-service <name>', 'read-write Service name (default postgres-rw)')
    .option('--ro-service <name>', 'read-only Service name (default postgres-ro)')
    .option('--endpoints-api <api>', 'slices (EndpointSlice, default) or endpoints (legacy core/v1 Endpoints)')
    .option('--kubeconfig <file>', 'kubeconfig file (else in-cluster, KUBECONFIG or ~/.kube/config)')
    .option('--max-lag <size>', 'replicas further behind leave the read-only endpoints (default 16MB)');
  withNotifyOptions(withCommonOptions(command)).action((flags: TopologyFlags) => runCommand(() => topology(flags)));
}

const FLAG_KEYS = ['namespace', 'rwService', 'roService', 'endpointsApi', 'kubeconfig', 'maxLag'] as const;

/** The command's flags in config shape: raw strings, so the schema reports every bad value at once with its path. */
function overridesFrom(flags: TopologyFlags): Record<string, unknown> {
  return { ...notifyOverrides(flags), topology: Object.fromEntries(FLAG_KEYS.map((key) => [key, flags[key]])) };
}

/** A cluster's settings with the flags on top: flags beat a cluster's own overrides in the file. */
function settingsFor(config: Config, cluster: ClusterConfig, flags: TopologyFlags): TopologySettings {
  const settings = topologySettingsFor(config, cluster);
  const fromFlags = Object.fromEntries(FLAG_KEYS.filter((key) => flags[key] !== undefined).map((key) => [key, config.topology[key]]));
  return { ...settings, ...fromFlags };
}

function describeResult(result: TopologyResult): string {
  const lines: string[] = [];
  const replicas = result.replicas.map(
    (r) => `${r.node} (lag ${r.lagBytes === null ? '?' : formatBytes(r.lagBytes)}${r.lagSeconds === null ? '' : `, ${r.lagSeconds}s`})`,
  );
  const head =
    result.verdict === 'ok' && result.primary
      ? `${result.cluster}: ok, primary ${result.primary.node} ${result.primary.host}:${result.primary.port}`
      : `${result.cluster}: ${result.verdict.toUpperCase()}${result.primaries.length > 0 ? ` (${result.primaries.map((p) => p.node).join(', ')})` : ''}, ${
          result.desired === null
            ? 'endpoints left unchanged'
            : result.primary
              ? `read-write to ${result.primary.node} (newest timeline)`
              : 'read-write endpoints emptied'
        }`;
  lines.push(
    [
      head,
      `replicas: ${replicas.join(', ') || 'none'}`,
      result.down.length ? `down: ${result.down.map((d) => d.node).join(', ')}` : '',
      result.unknown.length ? `unknown: ${result.unknown.map((d) => d.node).join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; '),
  );
  if (result.desired) {
    for (const [label, addresses] of [
      ['rw', result.desired.rw],
      ['ro', result.desired.ro],
    ] as const) {
      const write = result.writes[label === 'rw' ? 0 : 1];
      const target = addresses.map((a) => `${a.node ?? ''}${a.node ? ' ' : ''}${a.ip}:${a.port}`).join(', ') || 'no addresses';
      const action = write
        ? `${write.action}${write.drift ? ', drift corrected' : ''}${write.error ? `: ${write.error}` : ''}`
        : 'not written';
      lines.push(`  ${label} → ${target} [${action}]`);
    }
  }
  if (result.endpoints === 'unmanaged') lines.push('  endpoints are not managed (no Kubernetes configuration, or manageEndpoints is off)');
  for (const event of result.events)
    lines.push(`  ${result.endpoints === 'dry_run' ? describeWouldSend(event) : `alert ${formatEventLine(event)}`}`);
  return lines.join('\n');
}

function exitCodeOf(results: readonly TopologyResult[]): number {
  return results.every((r) => r.verdict === 'ok' && r.writes.every((w) => w.action !== 'failed')) ? EXIT_OK : EXIT_FAILED;
}

async function topology(flags: TopologyFlags): Promise<number> {
  const intervalMs = intervalFlag(flags);

  const config = loadCliConfig(flags, overridesFrom(flags));
  if (config.clusters.length === 0) {
    throw new CliExit(EXIT_USAGE, 'no nodes to probe: give --url name=URL (repeatable), PGWARDEN_URLS, or clusters in --config');
  }
  const logger = createCliLogger(config);
  const dryRun = flags.dryRun ?? false;
  const writerFor = createEndpointsWriterFactory(logger);
  let targets: TopologyTarget[];
  try {
    targets = config.clusters.map((cluster) => {
      const settings = settingsFor(config, cluster, flags);
      return { cluster, settings, writer: writerFor(settings) };
    });
  } catch (error) {
    // A Kubernetes configuration that was asked for (--kubeconfig) but cannot load is a usage error.
    if (error instanceof K8sOptionsError) throw new CliExit(EXIT_USAGE, error.message);
    throw error;
  }

  const { publisher, stateDb, close } = await openAlerting(config, logger, dryRun);
  let alertStore: AlertStateStore | undefined;
  if (!stateDb && intervalMs !== undefined) {
    // No control database: keep the alert lifecycle in memory across rounds, so a node that stays down is told once.
    alertStore = createMemoryAlertStateStore();
  }
  const monitor = createTopologyMonitor();

  const round = async (): Promise<number> => {
    const results = await monitor.run({ targets, stateDb, alertStore, publisher, logger, clock: () => new Date(), dryRun });
    if (flags.json) printJson(results.length === 1 ? results[0] : { clusters: results });
    else for (const result of results) process.stdout.write(`${describeResult(result)}\n`);
    return exitCodeOf(results);
  };

  try {
    return await runRounds(round, intervalMs);
  } finally {
    await close();
  }
}
