/** Where CLI commands get their alert publisher: the one the config asks for (see openAlertPublisher). */
import type { AlertPublisher } from '../shared/alerts/index.ts';
import type { Config } from '../shared/config/index.ts';
import { openAlertPublisher } from '../shared/delivery/index.ts';
import type { Logger } from '../shared/log/index.ts';

/** Opens the publisher the config asks for; `close()` releases what it holds. */
export async function openPublisher(
  config: Config,
  logger: Logger,
  options: { dryRun: boolean },
): Promise<{ publisher: AlertPublisher; close(): Promise<void> }> {
  const { publisher, close } = await openAlertPublisher(config, logger, { dryRun: options.dryRun });
  return { publisher, close };
}
