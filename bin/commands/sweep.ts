import type { Command } from 'commander';
import { deliveryChannels } from '../../shared/config/index.ts';
import { openDeliveryQueue, sweepDeliveries } from '../../shared/delivery/index.ts';
import {
  type CommonOptions,
  EXIT_FAILED,
  EXIT_OK,
  intFlag,
  type NotifyOptions,
  printJson,
  runCommand,
  withCommonOptions,
  withNotifyOptions,
} from '../cli.ts';
import { openLedgerForCli } from './deliveries.ts';

interface SweepFlags extends CommonOptions, NotifyOptions {
  batchSize?: string;
}

/**
 * `pgwarden sweep`: publishes due failed deliveries again (to the queue, or sent directly when none is
 * configured). Exit 1 when some could not be published (they stay due for the next sweep).
 */
export function registerSweepCommand(program: Command): void {
  const command = program
    .command('sweep')
    .description('re-publish due failed alert deliveries (what the scheduled sweep function does)')
    .option('--batch-size <n>', 'most deliveries taken in one sweep', '100')
    .option('--json', 'print the counts as JSON on stdout');
  withNotifyOptions(withCommonOptions(command)).action((flags: SweepFlags) =>
    runCommand(async () => {
      const batchSize = intFlag('batch-size', flags.batchSize);
      const { config, logger, db } = openLedgerForCli(flags);
      const { queue, close } = openDeliveryQueue(config, { db, logger });
      try {
        const batch = batchSize === 0 ? undefined : batchSize;
        const result = await sweepDeliveries({ db, queue, logger, batchSize: batch, channels: deliveryChannels(config) });
        if (flags.json) printJson(result);
        else {
          process.stdout.write(
            `swept: ${result.due} due, ${result.published} published, ${result.unpublished} left due, ${result.promotedDead} made dead${result.stalePending > 0 ? `, ${result.stalePending} of them lost while pending` : ''}\n`,
          );
        }
        return result.unpublished > 0 ? EXIT_FAILED : EXIT_OK;
      } finally {
        close();
        await db.close();
      }
    }),
  );
}
