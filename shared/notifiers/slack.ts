import {
  type FetchFunction,
  IncomingWebhook,
  IncomingWebhookHTTPError,
  IncomingWebhookRequestError,
  type IncomingWebhookSendArguments,
} from '@slack/webhook';
import type { AlertEvent, Severity } from '../alerts/index.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import { redact, registerSecret } from '../redact/index.ts';
import { describeTitle, describeValue } from './format.ts';
import {
  checkTimeoutMs,
  classifyHttpFailure,
  classifyRequestFailure,
  createLoggedNotifier,
  createScrubber,
  type FetchFn,
  type Notifier,
  parseServiceUrl,
  type SendOutcome,
} from './outcome.ts';

/** Attachment bar colours (Slack's own palette): red, amber, blue by severity; green once resolved. */
export const SLACK_COLORS = {
  critical: '#E01E5A',
  warning: '#ECB22E',
  info: '#36C5F0',
  resolved: '#2EB67D',
} as const satisfies Record<Severity | 'resolved', string>;

const SEVERITY_EMOJI: Readonly<Record<Severity, string>> = {
  critical: ':rotating_light:',
  warning: ':warning:',
  info: ':information_source:',
};

/** Slack's limit on a header block's text. */
const HEADER_MAX = 150;
/** Slack's limit on a section's text; summaries are far shorter, this only keeps a runaway one valid. */
const SECTION_MAX = 3000;

export type SlackMessage = IncomingWebhookSendArguments & { text: string };

/** mrkdwn treats `&`, `<` and `>` as control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Renders an alert as a Slack incoming-webhook message: a plain `text` fallback (notifications, screen readers),
 * a header block with the title, and one attachment whose bar is coloured by severity (green once resolved)
 * holding Block Kit blocks: the summary, the fields (cluster, node, database, namespace, value vs threshold, observed time,
 * rule), a test notice for `test` events, and a context line with the status, the raising component and the event
 * id. Every string is passed through `redact`. Pure: the same event always renders the same message.
 *
 * @example await new IncomingWebhook(url).send(renderSlackMessage(event))
 */
export function renderSlackMessage(event: AlertEvent): SlackMessage {
  const resolved = event.status === 'resolved';
  const isTest = event.rule === 'test';
  const emoji = resolved ? ':white_check_mark:' : SEVERITY_EMOJI[event.severity];
  const title = describeTitle(event);
  const summary = redact(event.summary);
  const color = resolved ? SLACK_COLORS.resolved : SLACK_COLORS[event.severity];

  const fields: Array<{ type: 'mrkdwn'; text: string }> = [];
  const field = (label: string, value: string | undefined) => {
    if (value !== undefined) fields.push({ type: 'mrkdwn', text: `*${label}*\n${escapeMrkdwn(redact(value))}` });
  };
  field('Cluster', event.cluster);
  field('Node', event.node);
  field('Database', event.database);
  field('Namespace', event.namespace);
  field('Value', describeValue(event));
  const observedSeconds = Math.floor(Date.parse(event.observedAt) / 1000);
  // Slack shows the date in each reader's own time zone; the ISO text is the fallback for old clients.
  fields.push({ type: 'mrkdwn', text: `*Observed*\n<!date^${observedSeconds}^{date_short_pretty} {time_secs}|${event.observedAt}>` });
  fields.push({ type: 'mrkdwn', text: `*Rule*\n\`${event.rule}\`` });

  const header: NonNullable<IncomingWebhookSendArguments['blocks']> = [
    { type: 'header', text: { type: 'plain_text', text: truncate(`${emoji} ${title}`, HEADER_MAX), emoji: true } },
  ];
  const blocks: NonNullable<IncomingWebhookSendArguments['blocks']> = [
    { type: 'section', text: { type: 'mrkdwn', text: truncate(escapeMrkdwn(summary), SECTION_MAX) } },
    { type: 'section', fields },
  ];
  if (isTest) {
    blocks.push({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: ':test_tube: *This is a test notification* sent by pgwarden to check that alerts reach this channel. No action is needed.',
        },
      ],
    });
  }
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: escapeMrkdwn(redact(`${event.status} · ${event.severity} · raised by ${event.client} · event ${event.id}`)),
      },
    ],
  });

  const text = `${emoji} ${escapeMrkdwn(title)}: ${escapeMrkdwn(summary)}${isTest ? ' (test notification, no action needed)' : ''}`;
  // With top-level blocks, Slack shows `text` only in notifications and to clients that cannot draw blocks;
  // without them it would print `text` above the attachment as a duplicate.
  return { text, blocks: header, attachments: [{ color, blocks }] };
}

export interface SlackNotifierOptions {
  /** The incoming webhook URL. It is a secret: it is never logged nor quoted in an outcome. */
  webhookUrl: string;
  /** Per-request timeout; a request that takes longer is a `retry` outcome. Default 10 s. */
  timeoutMs?: number;
  /** The fetch to send with (default the global one). */
  fetch?: FetchFn;
  logger?: Logger;
  /** For `Retry-After` given as an HTTP-date. */
  clock?: () => Date;
}

/**
 * A Slack notifier over `@slack/webhook` (no retries of its own: the delivery ledger owns retrying).
 * Outcomes: 2xx → `sent`; 429 → `retry` with `retryAfterMs` from `Retry-After`; 408, 5xx, timeouts and network
 * errors → `retry`; any other 4xx (`no_service`, `invalid_token`, `channel_is_archived`, `invalid_payload`) →
 * `permanent` with Slack's body as the reason.
 *
 * @example
 * const slack = createSlackNotifier({ webhookUrl: config.slack.webhookUrl, timeoutMs: config.slack.timeout, logger });
 * const outcome = await slack.send(event); // { kind: 'retry', error: 'slack answered 429: rate_limited (retry after 30s)', … }
 */
export function createSlackNotifier(options: SlackNotifierOptions): Notifier {
  const { webhookUrl } = options;
  const url = parseServiceUrl('webhookUrl', webhookUrl);
  const timeoutMs = checkTimeoutMs(options.timeoutMs);
  const baseFetch = options.fetch ?? globalThis.fetch;
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? (() => new Date());
  // The whole URL and its path are the secret; registered so the shared redact masks them in other layers too.
  registerSecret(webhookUrl);
  registerSecret(url.pathname);
  const scrub = createScrubber([webhookUrl, url.href, url.pathname]);

  const send = async (event: AlertEvent): Promise<SendOutcome> => {
    // @slack/webhook 8 keeps the response to itself: a per-send fetch wrapper records the status and Retry-After.
    const seen: { status?: number; retryAfter?: string | null } = {};
    const recordingFetch: FetchFunction = async (target, init) => {
      const response = await baseFetch(target, init as RequestInit);
      seen.status = response.status;
      seen.retryAfter = response.headers.get('retry-after');
      return response;
    };
    const webhook = new IncomingWebhook(webhookUrl, { fetch: recordingFetch, timeout: timeoutMs, retryConfig: { retries: 0 } });
    try {
      await webhook.send(renderSlackMessage(event));
      return { kind: 'sent', status: seen.status ?? 200 };
    } catch (error) {
      if (error instanceof IncomingWebhookHTTPError) {
        return classifyHttpFailure(
          'slack',
          { status: error.statusCode, statusText: error.statusMessage, body: error.body, retryAfter: seen.retryAfter },
          clock(),
          scrub,
        );
      }
      if (error instanceof IncomingWebhookRequestError) return classifyRequestFailure('slack', error.original, timeoutMs, scrub);
      throw error;
    }
  };

  return createLoggedNotifier('slack', send, logger, { sent: 'slack message sent', failed: 'slack send failed' });
}
