import type { Command } from 'commander';
import { registerDeliveriesCommand } from './deliveries.ts';
import { registerInvoke } from './invoke.ts';
import { registerMigrateCommand } from './migrate.ts';
import { registerProxyCommand } from './proxy.ts';
import { registerRequeueCommand } from './requeue.ts';
import { registerSweepCommand } from './sweep.ts';
import { registerTopology } from './topology.ts';
import { registerWatchdog } from './watchdog.ts';

/** Every command of the CLI; each module adds itself to this list. */
export const commands: Array<(program: Command) => void> = [
  registerInvoke,
  registerWatchdog,
  registerSweepCommand,
  registerMigrateCommand,
  registerDeliveriesCommand,
  registerRequeueCommand,
  registerTopology,
  registerProxyCommand,
];
