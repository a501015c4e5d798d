import type { Command } from 'commander';
import type { Config } from '../../shared/config/index.ts';
import type { Cluster } from '../../shared/db/index.ts';
import {
  countDeliveriesByStatus,
  DELIVERY_STATUSES,
  type DeliveryDetail,
  type DeliveryStatus,
  DeliveryUsageError,
  getDelivery,
  listDeliveries,
  openControlDb,
} from '../../shared/delivery/index.ts';
import type { Logger } from '../../shared/log/index.ts';
import {
  CliExit,
  type CommonOptions,
  createCliLogger,
  EXIT_FAILED,
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
  id?: string;
}

/** One delivery and its attempts as lines: the row, then one line per attempt, oldest first. */
export function formatDeliveryDetail(detail: DeliveryDetail): string {
  const row = [
    detail.id,
    detail.channel,
    detail.status,
    `tries=${detail.retryCount}`,
    `${detail.cluster}/${detail.rule}`,
    `created=${detail.createdAt}`,
    detail.sentAt ? `sent=${detail.sentAt}` : '',
    detail.nextRetryAt ? `next=${detail.nextRetryAt}` : '',
  ].filter(Boolean);
  const lines = [row.join('  ')];
  if (detail.lastError) lines.push(`last error: ${detail.lastError}`);
  lines.push(detail.attempts.length > 0 ? 'attempts:' : 'no attempts yet');
  for (const attempt of detail.attempts) {
    const status = attempt.httpStatus !== null ? `HTTP ${attempt.httpStatus}` : '';
    lines.push(
      ['', `#${attempt.attempt}`, attempt.at, attempt.outcome.padEnd(12), status, attempt.error ?? '']
        .filter((part, i) => i === 0 || part)
        .join('  '),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** `deliveries --id ID`: exit 1 when there is no such delivery, 2 when the id is not one. */
async function showDelivery(db: Cluster, id: string, json: boolean | undefined): Promise<number> {
  let detail: DeliveryDetail | undefined;
  try {
    detail = await getDelivery({ db, id });
  } catch (error) {
    if (error instanceof DeliveryUsageError) throw new CliExit(EXIT_USAGE, `--${error.message}`);
    throw error;
  }
  if (!detail) throw new CliExit(EXIT_FAILED, `no delivery ${id} in the ledger`);
  if (json) printJson({ delivery: detail });
  else process.stdout.write(formatDeliveryDetail(detail));
  return 0;
}

/** `pgwarden deliveries [--status S] [--id ID] [--json]`: the delivery ledger, newest first, and counts by status. */
export function registerDeliveriesCommand(program: Command): void {
  const command = program
    .command('deliveries')
    .description('list alert deliveries from the ledger (newest first) with counts by status')
    .option('--status <status>', `only deliveries in this status (${DELIVERY_STATUSES.join(', ')})`)
    .option('--limit <n>', 'at most this many rows', '1000')
    .option('--id <id>', 'one delivery with its attempt history (time, outcome, HTTP status, error of each attempt)')
    .option('--json', 'print {"deliveries":[…]} (with --id: {"delivery":{…, "attempts":[…]}}) on stdout');
  withNotifyOptions(withCommonOptions(command)).action((flags: DeliveriesFlags) =>
    runCommand(async () => {
      const status = flags.status;
      if (status !== undefined && !(DELIVERY_STATUSES as readonly string[]).includes(status)) {
        throw new CliExit(EXIT_USAGE, `--status: "${status}" is not a delivery status (one of ${DELIVERY_STATUSES.join(', ')})`);
      }
      const limit = intFlag('limit', flags.limit);
      const { db } = openLedgerForCli(flags);
      try {
        if (flags.id !== undefined) return await showDelivery(db, flags.id, flags.json);
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
          return 0;
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
        return 0;
      } finally {
        await db.close();
      }
    }),
  );
}
