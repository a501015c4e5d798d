import type { Command } from 'commander';
import type { Config } from '../../shared/config/index.ts';
import type { Cluster } from '../../shared/db/index.ts';
import {
  countDeliveriesByStatus,
  DELIVERY_STATUSES,
  type DeliveryStatus,
  listDeliveries,
  openControlDb,
} from '../../shared/delivery/index.ts';
import type { Logger } from '../../shared/log/index.ts';
import {
  CliExit,
  type CommonOptions,
  createCliLogger,
  EXIT_USAGE,
  intFlag,
  loadCliConfig,
  type NotifyOptions,
  notifyOverrides,
  printJson,
  runCommand,
  withCommonOptions,
  withNotifyOptions,
} from '../cli.ts';

/**
 * Loads the config of a delivery command and opens its control database; ends with exit 2 when there is none.
 * Shared by `deliveries`, `sweep`, `requeue` and `migrate`.
 */
export function openLedgerForCli(options: CommonOptions & NotifyOptions): { config: Config; logger: Logger; db: Cluster } {
  const config = loadCliConfig(options, notifyOverrides(options));
  if (!config.stateUrl) {
    throw new CliExit(
      EXIT_USAGE,
      'the control database is required: give --state-url postgres://… (or set PGWARDEN_STATE_URL); it holds the delivery ledger',
    );
  }
  const logger = createCliLogger(config);
  return { config, logger, db: openControlDb(config, logger) };
}

interface DeliveriesFlags extends CommonOptions, NotifyOptions {
  status?: string;
  limit?: string;
}

/** `pgwarden deliveries [--status S] [--json]`: the delivery ledger, newest first, and counts by status. */
export function registerDeliveriesCommand(program: Command): void {
  const command = program
    .command('deliveries')
    .description('list alert deliveries from the ledger (newest first) with counts by status')
    .option('--status <status>', `only deliveries in this status (${DELIVERY_STATUSES.join(', ')})`)
    .option('--limit <n>', 'at most this many rows', '1000')
    .option('--json', 'print {"deliveries":[…]} on stdout');
  withNotifyOptions(withCommonOptions(command)).action((flags: DeliveriesFlags) =>
    runCommand(async () => {
      const status = flags.status;
      if (status !== undefined && !(DELIVERY_STATUSES as readonly string[]).includes(status)) {
        throw new CliExit(EXIT_USAGE, `--status: "${status}" is not a delivery status (one of ${DELIVERY_STATUSES.join(', ')})`);
      }
      const limit = intFlag('limit', flags.limit);
      const { db } = openLedgerForCli(flags);
      try {
        const rows = await listDeliveries({ db, status: status as DeliveryStatus | undefined, limit: limit === 0 ? undefined : limit });
        if (flags.json) {
          printJson({
            deliveries: rows.map((row) => ({
              id: row.id,
              eventId: row.eventId,
              channel: row.channel,
              status: row.status,
              retryCount: row.retryCount,
              nextRetryAt: row.nextRetryAt,
              lastError: row.lastError,
              rule: row.rule,
              cluster: row.cluster,
            })),
          });
          return;
        }
        const counts = await countDeliveriesByStatus(db);
        const lines = rows.map((row) =>
          [
            row.id,
            row.channel.padEnd(5),
            row.status.padEnd(7),
            `tries=${row.retryCount}`,
            row.nextRetryAt ? `next=${row.nextRetryAt}` : '',
            `${row.cluster}/${row.rule}`,
            row.lastError ? `error: ${row.lastError}` : '',
          ]
            .filter(Boolean)
            .join('  '),
        );
        const summary = DELIVERY_STATUSES.map((s) => `${s} ${counts[s]}`).join(', ');
        process.stdout.write(`${lines.length > 0 ? `${lines.join('\n')}\n` : 'no deliveries\n'}${summary}\n`);
      } finally {
        await db.close();
      }
    }),
  );
}
