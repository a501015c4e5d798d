import type { AlertEvent, Channel } from '../alerts/index.ts';
import { formatDuration } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import { describeError, redact } from '../redact/index.ts';
import { NotifierOptionsError } from './errors.ts';

/**
 * What one send attempt came to. Expected failures are values, so the delivery ledger can decide:
 * `sent` marks the row sent, `retry` schedules another attempt (no earlier than `retryAfterMs` when the service
 * said so), `permanent` makes the row dead at once. `error` is short, human and secret-free.
 */
export type SendOutcome =
  | { kind: 'sent'; status: number }
  | { kind: 'retry'; error: string; status?: number; retryAfterMs?: number }
  | { kind: 'permanent'; error: string; status?: number };

/** A sender for one channel. `send` resolves with an outcome for every answer or network failure it can meet. */
export interface Notifier {
  readonly channel: Channel;
  send(event: AlertEvent): Promise<SendOutcome>;
}

/** The WHATWG fetch the notifiers call (global `fetch` by default; tests and proxies pass their own). */
export type FetchFn = typeof globalThis.fetch;

/** Checks a notifier's per-request timeout option; default 10 s. */
export function checkTimeoutMs(timeoutMs: number | undefined): number {
  const checked = timeoutMs ?? 10_000;
  if (!Number.isFinite(checked) || checked <= 0) {
    throw new NotifierOptionsError('timeoutMs', `must be a positive number of milliseconds, got ${checked}`);
  }
  return checked;
}

/**
 * A notifier for `channel` over `send`, logging each attempt once: `debug` with `sent` when delivered, `warn`
 * with `failed (<kind>)` and the outcome when not.
 */
export function createLoggedNotifier(
  channel: Channel,
  send: (event: AlertEvent) => Promise<SendOutcome>,
  logger: Logger,
  messages: { sent: string; failed: string },
): Notifier {
  return {
    channel,
    async send(event) {
      const outcome = await send(event);
      if (outcome.kind === 'sent') logger.debug(messages.sent, { eventId: event.id, rule: event.rule, status: outcome.status });
      else logger.warn(`${messages.failed} (${outcome.kind})`, { eventId: event.id, rule: event.rule, ...outcome });
      return outcome;
    },
  };
}

/** Longest service body quoted in an outcome: enough for Slack's codes and Loki's one-line reasons. */
const MAX_BODY_CHARS = 200;

/**
 * Parses a `Retry-After` header (delta-seconds or an HTTP-date, RFC 9110 §10.2.3) into milliseconds from `now`.
 * Returns `undefined` when the header is absent or unreadable; a date in the past gives 0.
 *
 * @example parseRetryAfter('30', new Date()) // 30000
 */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}

/**
 * Returns a function that masks the given secrets (webhook URL, its path, tokens) verbatim and then applies the
 * shared `redact`, so a message is safe even when the secret was never registered (a loopback webhook URL has no
 * `hooks.slack.com` shape for `redact` to recognise).
 */
export function createScrubber(secrets: ReadonlyArray<string | undefined>): (text: string) => string {
  const known = secrets.filter((secret): secret is string => typeof secret === 'string' && secret.length >= 4);
  // Longest first, so the full URL is masked before its path.
  known.sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const secret of known) if (out.includes(secret)) out = out.split(secret).join('***');
    return redact(out);
  };
}

/** A service's error body made quotable: one line, bounded, no HTML error pages. */
function quoteBody(body: string): string {
  const line = body.replace(/\s+/g, ' ').trim();
  if (line === '' || line.startsWith('<')) return '';
  return line.length > MAX_BODY_CHARS ? `${line.slice(0, MAX_BODY_CHARS - 1)}…` : line;
}

/**
 * Classifies a non-2xx HTTP answer: 429 → retry (after `Retry-After`), 408 and 5xx → retry, any other status
 * (400 malformed, 401/403 bad credentials, 404 unknown webhook, 410 archived channel, 413 too large) → permanent,
 * with the service's own body text as the reason.
 */
export function classifyHttpFailure(
  service: string,
  answer: { status: number; statusText?: string; body: string; retryAfter?: string | null },
  now: Date,
  scrub: (text: string) => string,
): SendOutcome {
  const { status } = answer;
  const quoted = quoteBody(answer.body);
  const reason = quoted || answer.statusText || '';
  const retryAfterMs = parseRetryAfter(answer.retryAfter, now);
  const head = `${service} answered ${status}${reason ? `: ${reason}` : ''}`;
  if (status === 429 || status === 408 || status >= 500) {
    const error = scrub(retryAfterMs !== undefined ? `${head} (retry after ${formatDuration(retryAfterMs)})` : head);
    return retryAfterMs !== undefined ? { kind: 'retry', error, status, retryAfterMs } : { kind: 'retry', error, status };
  }
  return { kind: 'permanent', error: scrub(head), status };
}

/**
 * Classifies a request that got no answer: a timeout or a network error is worth another try; a redirect is not
 * (a webhook or push URL that redirects is a wrong URL, and following it could hand the payload to another host).
 */
export function classifyRequestFailure(service: string, error: unknown, timeoutMs: number, scrub: (text: string) => string): SendOutcome {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return { kind: 'retry', error: scrub(`${service} did not answer within ${formatDuration(timeoutMs)}`) };
  }
  const cause = error instanceof Error && error.message === 'fetch failed' && error.cause !== undefined ? error.cause : error;
  const description = describeError(cause);
  if (/unexpected redirect/i.test(description)) {
    return { kind: 'permanent', error: scrub(`${service} answered with a redirect: the URL is wrong`) };
  }
  return { kind: 'retry', error: scrub(`${service} unreachable: ${description}`) };
}

/**
 * Parses a service URL: `https`, or plain `http` to a loopback host (fakes and local sinks), the same rule as the
 * config schema. Throws `NotifierOptionsError` naming the option; the message never quotes the URL's path or
 * credentials (a Slack webhook path is the secret).
 */
export function parseServiceUrl(option: string, text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new NotifierOptionsError(option, 'must be an absolute http(s) URL', { cause: error });
  }
  const host = url.hostname;
  const loopback = host === 'localhost' || host === '[::1]' || host === '::1' || /^127\./.test(host);
  if (url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) return url;
  throw new NotifierOptionsError(option, `must use https (http is allowed only for loopback hosts), got ${url.protocol}//${url.host}`);
}
