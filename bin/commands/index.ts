import type { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * Every command of the CLI, loaded on demand: running `pgwarden watchdog` imports the watchdog command only,
 * not the Kubernetes client or the AWS SDKs the other commands need (start-up is what a CLI is judged by).
 */
export const commandModules: Record<string, () => Promise<Register>> = {
  dev: async () => (await import('./dev.ts')).registerDev,
  watchdog: async () => (await import('./watchdog.ts')).registerWatchdog,
  topology: async () => (await import('./topology.ts')).registerTopology,
  sweep: async () => (await import('./sweep.ts')).registerSweepCommand,
  migrate: async () => (await import('./migrate.ts')).registerMigrateCommand,
  deliveries: async () => (await import('./deliveries.ts')).registerDeliveriesCommand,
  requeue: async () => (await import('./requeue.ts')).registerRequeueCommand,
  proxy: async () => (await import('./proxy.ts')).registerProxyCommand,
  invoke: async () => (await import('./invoke.ts')).registerInvoke,
};

/** The commands to register for this argv: the one named, or all of them (help, unknown names). */
export async function loadCommands(argv: readonly string[]): Promise<Register[]> {
  const name = argv.find((arg) => !arg.startsWith('-'));
  const only = name ? commandModules[name] : undefined;
  if (only) return [await only()];
  return Promise.all(Object.values(commandModules).map((load) => load()));
}
