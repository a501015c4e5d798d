/**
 * `pgwarden proxy`: the HA proxy (what tasks/ha-proxy runs). A read-write port that follows the primary, a
 * read-only port over healthy replicas, the HTTP API, and with `--lease` Kubernetes leader election for the
 * floating address (`--vip`). Runs until SIGTERM/SIGINT, then drains (up to `--drain-timeout`) and exits 0.
 * Exit 2 for bad flags or config, 1 when a port cannot be bound.
 */
import type { Command } from 'commander';
import { ProxyConfigError, startProxyFromConfig } from '../../shared/proxy/index.ts';
import {
  CliExit,
  type CommonOptions,
  createCliLogger,
  durationFlag,
  EXIT_OK,
  EXIT_USAGE,
  intFlag,
  loadCliConfig,
  runCommand,
  withCommonOptions,
} from '../cli.ts';

interface ProxyFlags extends CommonOptions {
  rwPort?: string;
  roPort?: string;
  apiPort?: string;
  apiHost?: string;
  apiToken?: string;
  listenHost?: string;
  checkInterval?: string;
  checkTimeout?: string;
  connectTimeout?: string;
  maxLag?: string;
  maxClients?: string;
  drainTimeout?: string;
  workers?: string;
  dataPath?: string;
  lease?: string;
  namespace?: string;
  vip?: string;
  vipInterface?: string;
  kubeconfig?: string;
}

/** Registers `pgwarden proxy`. */
export function registerProxyCommand(program: Command): void {
  const command = program
    .command('proxy')
    .description('the HA proxy: read-write port to the primary, read-only port to healthy replicas, health API, Lease + floating address')
    .option('--rw-port <port>', 'read-write listener (default 5432)')
    .option('--ro-port <port>', 'read-only listener (default 5433)')
    .option('--api-port <port>', 'HTTP API (default 8008)')
    .option('--api-host <host>', 'HTTP API bind address (default 127.0.0.1)')
    .option('--api-token <token>', 'bearer token for API mutations (drain/undrain); none: they answer 403 (also PGWARDEN_PROXY_API_TOKEN)')
    .option('--listen-host <host>', 'bind address of the RW/RO listeners (default 0.0.0.0)')
    .option('--check-interval <duration>', 'health check interval (default 1s; 100ms while the primary is in doubt)')
    .option('--check-timeout <duration>', 'health check timeout (default 1s)')
    .option('--connect-timeout <duration>', 'connect timeout to a node (default 3s)')
    .option('--max-lag <size>', 'replicas further behind leave the read-only pool (default 16MB)')
    .option('--max-clients <n>', 'client connections beyond this are refused with SQLSTATE 53300 (default 1000)')
    .option('--drain-timeout <duration>', 'on SIGTERM, how long to wait for clients before closing them (default 30s)')
    .option('--workers <n|auto>', 'data-plane threads sharing the listeners; auto: one per CPU, like HAProxy (default 1)')
    .option('--data-path <auto|native|javascript>', 'native: the C addon moves the bytes; auto: native where it is built (default auto)')
    .option('--lease <name>', 'Kubernetes Lease for leader election among proxy replicas')
    .option('--namespace <ns>', 'namespace of the Lease (default "default")')
    .option('--vip <address/prefix>', 'floating address held by the leader, like 10.0.0.10/32')
    .option('--vip-interface <if>', 'interface that carries the floating address, like eth0')
    .option('--kubeconfig <file>', 'kubeconfig for the Lease (else in-cluster, KUBECONFIG or ~/.kube/config)');
  withCommonOptions(command).action((flags: ProxyFlags) => runCommand(() => proxyCommand(flags)));
}

async function proxyCommand(flags: ProxyFlags): Promise<number> {
  const proxy = {
    rwPort: intFlag('rw-port', flags.rwPort),
    roPort: intFlag('ro-port', flags.roPort),
    apiPort: intFlag('api-port', flags.apiPort),
    apiHost: flags.apiHost,
    apiToken: flags.apiToken,
    listenHost: flags.listenHost,
    checkInterval: durationFlag('check-interval', flags.checkInterval),
    checkTimeout: durationFlag('check-timeout', flags.checkTimeout),
    connectTimeout: durationFlag('connect-timeout', flags.connectTimeout),
    maxLag: flags.maxLag,
    maxClients: intFlag('max-clients', flags.maxClients),
    drainTimeout: durationFlag('drain-timeout', flags.drainTimeout),
    workers: flags.workers === 'auto' ? ('auto' as const) : intFlag('workers', flags.workers),
    dataPath: flags.dataPath,
    lease: flags.lease,
    namespace: flags.namespace,
    vip: flags.vip,
    vipInterface: flags.vipInterface,
  };
  const config = loadCliConfig(flags, { proxy });
  const logger = createCliLogger(config);
  const running = await startProxyFromConfig(config, { logger, kubeconfig: flags.kubeconfig }).catch((error: unknown) => {
    throw error instanceof ProxyConfigError ? new CliExit(EXIT_USAGE, error.message) : error;
  });
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info('signal received: draining', { signal });
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
      running.drain().then(resolve, resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return EXIT_OK;
}
