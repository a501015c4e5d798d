import type { Channel } from '../alerts/index.ts';
import type { Config } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import { createConsoleNotifier } from './console.ts';
import { createLokiNotifier } from './loki.ts';
import type { FetchFn, Notifier } from './outcome.ts';
import { createSlackNotifier } from './slack.ts';

export interface CreateNotifiersOptions {
  fetch?: FetchFn;
  logger?: Logger;
  clock?: () => Date;
  /**
   * When neither Slack nor Loki is configured, deliver `slack`-channel events to this line writer
   * (`createConsoleNotifier`) instead of returning no notifier. Off by default.
   */
  consoleFallback?: (line: string) => void;
}

/**
 * The notifiers a config asks for: `slack` when `config.slack` is set, `loki` when `config.loki` is set.
 * A channel that is not configured has no entry, so the caller creates no deliveries for it.
 *
 * @example const notifiers = createNotifiers(config, { logger }); // { slack?: Notifier, loki?: Notifier }
 */
export function createNotifiers(
  config: Pick<Config, 'slack' | 'loki'>,
  options: CreateNotifiersOptions = {},
): Partial<Record<Channel, Notifier>> {
  const { fetch, logger, clock } = options;
  const notifiers: Partial<Record<Channel, Notifier>> = {};
  if (config.slack) {
    notifiers.slack = createSlackNotifier({
      webhookUrl: config.slack.webhookUrl,
      timeoutMs: config.slack.timeout,
      fetch,
      logger: logger?.child({ channel: 'slack' }),
      clock,
    });
  }
  if (config.loki) {
    notifiers.loki = createLokiNotifier({
      url: config.loki.url,
      labels: config.loki.labels,
      orgId: config.loki.orgId,
      bearerToken: config.loki.bearerToken,
      username: config.loki.username,
      password: config.loki.password,
      timeoutMs: config.loki.timeout,
      structuredMetadata: config.loki.structuredMetadata,
      fetch,
      logger: logger?.child({ channel: 'loki' }),
      clock,
    });
  }
  if (!notifiers.slack && !notifiers.loki && options.consoleFallback) {
    notifiers.slack = createConsoleNotifier(options.consoleFallback, { channel: 'slack' });
  }
  return notifiers;
}
