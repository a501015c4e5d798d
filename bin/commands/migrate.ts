import type { Command } from 'commander';
import { migrate } from '../../shared/db/index.ts';
import { MIGRATIONS } from '../../shared/delivery/index.ts';
import {
  CliExit,
  type CommonOptions,
  EXIT_USAGE,
  intFlag,
  type NotifyOptions,
  printJson,
  runCommand,
  withCommonOptions,
  withNotifyOptions,
} from '../cli.ts';
import { openLedgerForCli } from './deliveries.ts';

interface MigrateFlags extends CommonOptions, NotifyOptions {
  steps?: string;
  all?: boolean;
}

/** `pgwarden migrate [up|down]`: applies (or reverts) the control database's migrations (alert state, delivery ledger). */
export function registerMigrateCommand(program: Command): void {
  const command = program
    .command('migrate')
    .description('apply (up, the default) or revert (down) the control database migrations')
    .argument('[direction]', 'up or down', 'up')
    .option('--steps <n>', 'down: how many migrations to revert, newest first', '1')
    .option('--all', 'down: revert every migration')
    .option('--json', 'print the result as JSON on stdout');
  withNotifyOptions(withCommonOptions(command)).action((direction: string, flags: MigrateFlags) =>
    runCommand(async () => {
      if (direction !== 'up' && direction !== 'down')
        throw new CliExit(EXIT_USAGE, `migrate: direction must be up or down, got "${direction}"`);
      const steps = intFlag('steps', flags.steps);
      const { logger, db } = openLedgerForCli(flags);
      try {
        const result = await migrate(db, MIGRATIONS, direction, { logger, steps: flags.all ? 'all' : steps });
        if (flags.json) printJson(result);
        else {
          const done = direction === 'up' ? result.applied : result.reverted;
          const verb = direction === 'up' ? 'applied' : 'reverted';
          const lines = done.map((m) => `${verb} ${m.version} ${m.name}`);
          lines.push(`current: ${result.current.length > 0 ? result.current.join(', ') : 'none'}`);
          process.stdout.write(`${lines.join('\n')}\n`);
        }
      } finally {
        await db.close();
      }
    }),
  );
}
