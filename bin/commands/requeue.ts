import type { Command } from 'commander';
import { openDeliveryQueue, requeueDeliveries } from '../../shared/delivery/index.ts';
import {
  CliExit,
  type CommonOptions,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  type NotifyOptions,
  printJson,
  runCommand,
  withCommonOptions,
  withNotifyOptions,
} from '../cli.ts';
import { openLedgerForCli } from './deliveries.ts';

interface RequeueFlags extends CommonOptions, NotifyOptions {
  allDead?: boolean;
}

/**
 * `pgwarden requeue <id>… | --all-dead`: dead or failed deliveries become pending with a fresh retry budget and are
 * published at once. Exit 1 when an id was not requeued (sent, pending or unknown) or could not be published.
 */
export function registerRequeueCommand(program: Command): void {
  const command = program
    .command('requeue')
    .description('deliver dead or failed alert deliveries again, with a fresh retry budget')
    .argument('[ids...]', 'delivery ids (from `pgwarden deliveries`)')
    .option('--all-dead', 'every dead delivery')
    .option('--json', 'print the result as JSON on stdout');
  withNotifyOptions(withCommonOptions(command)).action((ids: string[], flags: RequeueFlags) =>
    runCommand(async () => {
      if (ids.length === 0 && !flags.allDead) throw new CliExit(EXIT_USAGE, 'requeue: give delivery ids or --all-dead');
      if (ids.length > 0 && flags.allDead) throw new CliExit(EXIT_USAGE, 'requeue: give delivery ids or --all-dead, not both');
      const { config, logger, db } = openLedgerForCli(flags);
      const { queue, close } = openDeliveryQueue(config, { db, logger });
      try {
        const result = await requeueDeliveries({ db, queue, ids, allDead: flags.allDead, logger });
        if (flags.json) printJson(result);
        else {
          const lines = [
            ...result.requeued.map((row) => `requeued ${row.id} (${row.channel}, was ${row.previousStatus})`),
            ...result.notRequeued.map(
              (row) => `not requeued ${row.id}: ${row.status === 'not found' ? 'not found' : `it is ${row.status}`}`,
            ),
            ...result.unpublished.map((id) => `not published ${id}: left failed for the sweeper`),
          ];
          process.stdout.write(`${lines.length > 0 ? lines.join('\n') : 'nothing to requeue'}\n`);
        }
        return result.notRequeued.length > 0 || result.unpublished.length > 0 ? EXIT_FAILED : EXIT_OK;
      } finally {
        close();
        await db.close();
      }
    }),
  );
}
