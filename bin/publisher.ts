/**
 * Where CLI commands get their alert publisher. Until the delivery module lands, every event is logged;
 * the lead replaces this body with the queue/ledger publisher.
 */
import type { AlertPublisher } from '../shared/alerts/index.ts';
import { createLogPublisher } from '../shared/alerts/index.ts';
import type { Config } from '../shared/config/index.ts';
import type { Logger } from '../shared/log/index.ts';

/** Opens the publisher the config asks for; `close()` releases what it holds. */
export async function openPublisher(
  _config: Config,
  logger: Logger,
  _options: { dryRun: boolean },
): Promise<{ publisher: AlertPublisher; close(): Promise<void> }> {
  return { publisher: createLogPublisher(logger), close: async () => {} };
}
