#!/usr/bin/env node
/**
 * The `pgwarden` command line. Each command lives in bin/commands/<name>.ts and registers itself here;
 * the logic it runs lives in shared/.
 */
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE } from './cli.ts';
import { loadCommands } from './commands/index.ts';

const program = new Command('pgwarden')
  .description('A guardian for PostgreSQL clusters: watchdog, topology probe, alert delivery, HA proxy.')
  .showHelpAfterError()
  .exitOverride();

for (const register of await loadCommands(process.argv.slice(2))) register(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    throw error;
  }
}
