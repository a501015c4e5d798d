import type { AlertEvent } from '../alerts/index.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import { redact, registerSecret } from '../redact/index.ts';
import { NotifierConfigError } from './errors.ts';
import { describeTitle, logfmtValue, toUnixNanos } from './format.ts';
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

/** The JSON body of Loki's push API (https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs). */
export interface LokiPushBody {
  streams: Array<{
    stream: Record<string, string>;
    /** `[unix ns as a string, line, structured metadata]`, or `[ns, line]` when metadata is left out. */
    values: Array<[string, string, Record<string, string>] | [string, string]>;
  }>;
}

export const LOKI_PUSH_PATH = '/loki/api/v1/push';
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Renders an alert as one Loki push body with one stream and one entry.
 *
 * - Labels (low cardinality, what streams are selected by): `app=pgwarden`, `cluster`, `rule`, `severity`,
 *   `status`, plus `staticLabels`. A static label may replace `app`; it cannot replace the four event labels.
 * - Structured metadata (high cardinality, per entry): `event_id`, and `node`, `database`, `value`, `threshold`
 *   when the event has them, all strings.
 * - Line: logfmt with `msg` (the summary) first, then the event's fields and its labels as `label_<name>`,
 *   so `| logfmt` in LogQL reads every field.
 * - Timestamp: `observedAt` in Unix nanoseconds, as a string.
 *
 * Every value is passed through `redact`. Pure. With `structuredMetadata: false` each value is `[ns, line]` (for
 * servers that refuse metadata; the line carries the same fields).
 *
 * @example renderLokiPush(event, { env: 'prod' }).streams[0].stream // { app: 'pgwarden', env: 'prod', cluster: 'orders', … }
 */
export function renderLokiPush(
  event: AlertEvent,
  staticLabels: Readonly<Record<string, string>> = {},
  options: { structuredMetadata?: boolean } = {},
): LokiPushBody {
  const stream: Record<string, string> = {
    app: 'pgwarden',
    ...staticLabels,
    cluster: event.cluster,
    rule: event.rule,
    severity: event.severity,
    status: event.status,
  };
  for (const key of Object.keys(stream)) stream[key] = redact(stream[key] as string);

  const metadata: Record<string, string> = { event_id: event.id };
  if (event.node !== undefined) metadata.node = redact(event.node);
  if (event.database !== undefined) metadata.database = redact(event.database);
  if (event.value !== undefined) metadata.value = String(event.value);
  if (event.threshold !== undefined) metadata.threshold = String(event.threshold);

  const pairs: Array<[string, string | number | undefined]> = [
    ['msg', event.summary],
    ['title', describeTitle(event)],
    ['severity', event.severity],
    ['status', event.status],
    ['rule', event.rule],
    ['cluster', event.cluster],
    ['node', event.node],
    ['database', event.database],
    ['namespace', event.namespace],
    ['value', event.value],
    ['threshold', event.threshold],
    ['observed_at', event.observedAt],
    ['client', event.client],
    ['event_id', event.id],
  ];
  for (const [name, value] of Object.entries(event.labels)) pairs.push([`label_${name.replace(/[^A-Za-z0-9_]/g, '_')}`, value]);
  const line = redact(
    pairs
      .filter((pair): pair is [string, string | number] => pair[1] !== undefined)
      .map(([key, value]) => `${key}=${logfmtValue(String(value))}`)
      .join(' '),
  );

  const timestamp = toUnixNanos(event.observedAt);
  return {
    streams: [{ stream, values: [options.structuredMetadata === false ? [timestamp, line] : [timestamp, line, metadata]] }],
  };
}

/** `https://loki:3100` and `https://loki:3100/loki/api/v1/push` both mean the push endpoint. */
export function lokiPushUrl(url: URL): URL {
  const push = new URL(url.href);
  push.username = '';
  push.password = '';
  const path = push.pathname.replace(/\/+$/, '');
  push.pathname = path.endsWith(LOKI_PUSH_PATH) ? path : `${path}${LOKI_PUSH_PATH}`;
  return push;
}

export interface LokiNotifierOptions {
  /** Loki's base URL or its full push URL. Credentials in the URL are used as basic auth. */
  url: string;
  /** Static labels added to every stream (low cardinality: `env`, `region`). */
  labels?: Readonly<Record<string, string>>;
  /** The tenant, sent as `X-Scope-OrgID`. */
  orgId?: string;
  bearerToken?: string;
  username?: string;
  password?: string;
  /** Per-request timeout; a request that takes longer is a `retry` outcome. Default 10 s. */
  timeoutMs?: number;
  fetch?: FetchFn;
  logger?: Logger;
  /** For `Retry-After` given as an HTTP-date. */
  clock?: () => Date;
  /**
   * `auto` (default): send structured metadata; when Loki refuses it (a 400 saying so: Loki < 3, or
   * `allow_structured_metadata: false`), send again at once without it and remember that for this push URL and
   * tenant for the rest of the process. `on`: always send it (such a 400 is a permanent failure). `off`: never
   * send it.
   */
  structuredMetadata?: 'auto' | 'on' | 'off';
}

/**
 * Push URLs (without credentials) and tenants that refused structured metadata in this process: every notifier for
 * such a server sends without it, so only the first delivery pays the extra round trip.
 */
const refusesMetadata = new Set<string>();

/**
 * Loki's refusal, word for word from its validation errors (pkg/validation: DisallowedStructuredMetadataErrorMsg):
 * "stream '{…}' includes structured metadata, but this feature is disallowed. Please see
 * `limits_config.allow_structured_metadata` …".
 */
const METADATA_REFUSED = /includes structured metadata, but this feature is disallowed/i;

/**
 * A Loki notifier: one JSON push per event (`renderLokiPush`) to `<url>/loki/api/v1/push`, with `X-Scope-OrgID`
 * when `orgId` is set and bearer or basic auth. Outcomes: 2xx → `sent`; 429 → `retry` with `retryAfterMs` from
 * `Retry-After`; 408, 5xx, timeouts and network errors → `retry`; 400 (malformed), 401/403 (credentials), 404
 * (wrong URL), 413 (too large) → `permanent` with Loki's body as the reason. A 400 refusing structured metadata
 * is sent again without it (see `structuredMetadata`).
 *
 * @example createLokiNotifier({ url: 'https://loki.example.net', labels: { env: 'prod' }, orgId: 'ops', bearerToken })
 */
export function createLokiNotifier(options: LokiNotifierOptions): Notifier {
  const base = parseServiceUrl('url', options.url);
  const labels = { ...(options.labels ?? {}) };
  for (const name of Object.keys(labels)) {
    if (!LABEL_NAME.test(name)) {
      throw new NotifierConfigError(`labels.${name}`, 'a Loki label name is letters, digits and _, not starting with a digit');
    }
    if (['cluster', 'rule', 'severity', 'status'].includes(name)) {
      throw new NotifierConfigError(`labels.${name}`, 'is set from each event and cannot be a static label');
    }
  }
  const username = options.username ?? (base.username ? decodeURIComponent(base.username) : undefined);
  const password = options.password ?? (base.password ? decodeURIComponent(base.password) : undefined);
  if (options.bearerToken && (username || password)) {
    throw new NotifierConfigError('bearerToken', 'give either bearerToken or username/password, not both');
  }
  if (password !== undefined && username === undefined) {
    throw new NotifierConfigError('username', 'required with password (basic auth)');
  }
  const timeoutMs = checkTimeoutMs(options.timeoutMs);
  const pushUrl = lokiPushUrl(base);
  const fetchFn = options.fetch ?? globalThis.fetch;
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? (() => new Date());

  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'pgwarden' };
  if (options.orgId) headers['X-Scope-OrgID'] = options.orgId;
  let authorization: string | undefined;
  if (options.bearerToken) authorization = `Bearer ${options.bearerToken}`;
  else if (username !== undefined) authorization = `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
  if (authorization) headers.Authorization = authorization;
  registerSecret(options.bearerToken);
  registerSecret(password);
  // The URL is quoted only to mask credentials written into it; a plain base URL is not a secret.
  const scrub = createScrubber([options.bearerToken, password, authorization, base.username || base.password ? options.url : undefined]);

  const mode = options.structuredMetadata ?? 'auto';
  if (!['auto', 'on', 'off'].includes(mode)) {
    throw new NotifierConfigError('structuredMetadata', `must be auto, on or off, got ${String(mode)}`);
  }
  // allow_structured_metadata is a per-tenant limit in Loki: remember the refusal per URL and tenant.
  const serverKey = `${pushUrl.href} ${options.orgId ?? ''}`;
  const withMetadata = () => mode === 'on' || (mode === 'auto' && !refusesMetadata.has(serverKey));

  const push = async (event: AlertEvent, structuredMetadata: boolean): Promise<SendOutcome & { refusedMetadata?: boolean }> => {
    const body = JSON.stringify(renderLokiPush(event, labels, { structuredMetadata }));
    let response: Response;
    try {
      response = await fetchFn(pushUrl, { method: 'POST', headers, body, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      return classifyRequestFailure('loki', error, timeoutMs, scrub);
    }
    // A 2xx status means Loki accepted the entry; its body (empty on 204) is not needed.
    if (response.ok) {
      await response.body?.cancel();
      return { kind: 'sent', status: response.status };
    }
    // The status decides; a body cut off mid-way (timeout, reset) only loses the quoted reason.
    const text = await response.text().catch(() => '');
    const outcome = classifyHttpFailure(
      'loki',
      { status: response.status, statusText: response.statusText, body: text, retryAfter: response.headers.get('retry-after') },
      clock(),
      scrub,
    );
    return response.status === 400 && structuredMetadata && METADATA_REFUSED.test(text) ? { ...outcome, refusedMetadata: true } : outcome;
  };

  const send = async (event: AlertEvent): Promise<SendOutcome> => {
    const { refusedMetadata, ...outcome } = await push(event, withMetadata());
    if (!refusedMetadata || mode !== 'auto') return outcome;
    // Loki < 3 (or allow_structured_metadata: false): the line carries the same fields, so send it without.
    if (!refusesMetadata.has(serverKey)) {
      refusesMetadata.add(serverKey);
      logger.warn('loki refuses structured metadata (Loki < 3, or allow_structured_metadata: false): sending entries without it', {
        reason: 'error' in outcome ? outcome.error : undefined,
      });
    }
    const { refusedMetadata: _, ...retried } = await push(event, false);
    return retried;
  };

  return createLoggedNotifier('loki', send, logger, { sent: 'loki entry pushed', failed: 'loki push failed' });
}
