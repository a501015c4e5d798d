/**
 * A loopback stand-in for Loki's push API (`POST /loki/api/v1/push`, JSON; see
 * https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs), validating what real Loki validates
 * for the JSON form and answering with its status codes: `204` on success; `400` with a one-line reason for a body
 * that is not JSON, a missing or non-array `streams`, a stream without labels or with a bad label name, a timestamp
 * that is not a string of digits (numbers are rejected, as Loki does), a line that is not a string, and structured
 * metadata that is not an object of strings; `401` when auth is required and missing or wrong, or when an org id
 * is required and `X-Scope-OrgID` is absent (`no org id`); `404` for another path; `400` for any content type other
 * than `application/json` (Loki would try to read it as snappy protobuf and fail). `gzip` bodies are
 * accepted. Programmed answers (`respondWith`) replace the next calls' answers after the auth checks
 * (`429` + `Retry-After`, `500`, `503`, delays beyond the client timeout).
 *
 * With `structuredMetadata: false` it refuses entries carrying structured metadata with Loki 2.x's 400, word for word.
 *
 * What it does not cover: the protobuf+snappy push format, TLS, Loki's other error texts word for word (ours say the
 * same thing in our words), ingestion limits (line size, labels per stream, out-of-order and too-old entries), stream
 * sharding, and querying.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { type FakeRequest, type FakeResponse, startHttpFake } from './http-fake.ts';

export type { FakeRequest, FakeResponse } from './http-fake.ts';

export interface LokiStream {
  stream: Record<string, string>;
  values: Array<[string, string] | [string, string, Record<string, string>]>;
}

export interface LokiPushReceived {
  headers: IncomingHttpHeaders;
  streams: LokiStream[];
}

export interface LokiFakeOptions {
  /** Require `Authorization: Bearer <token>`. */
  bearerToken?: string;
  /** Require basic auth with these credentials. */
  basicAuth?: { username: string; password: string };
  /** Require `X-Scope-OrgID` (Loki with `auth_enabled: true`); when a string, require that tenant. */
  orgId?: boolean | string;
  /**
   * `false`: refuse entries that carry structured metadata as Loki 2.x (or 3.x with `allow_structured_metadata:
   * false`) does: 400 with its own text, word for word. Default true (accept it, as Loki 3 does by default).
   */
  structuredMetadata?: boolean;
}

export interface LokiFake {
  /** Base URL (`http://127.0.0.1:PORT`). */
  readonly url: string;
  /** The full push URL. */
  readonly pushUrl: string;
  /** Every accepted push (answered 204), in order. */
  readonly received: LokiPushReceived[];
  /** Every request, with the status answered. */
  readonly requests: FakeRequest[];
  /** Queues answers for the next calls that pass the auth checks, one per call. */
  respondWith(...responses: FakeResponse[]): void;
  close(): Promise<void>;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Returns the reason Loki would reject this body for, or the streams it would accept. */
function validatePush(body: unknown): string | LokiStream[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'push request must be a JSON object';
  const streams = (body as { streams?: unknown }).streams;
  if (streams === undefined) return 'push request has no streams';
  if (!Array.isArray(streams)) return 'streams must be an array';
  for (const [i, entry] of streams.entries()) {
    const { stream, values } = (entry ?? {}) as { stream?: unknown; values?: unknown };
    if (typeof stream !== 'object' || stream === null || Array.isArray(stream)) return `streams[${i}].stream must be an object of labels`;
    const labels = Object.entries(stream);
    if (labels.length === 0) return 'error at least one label pair is required per stream';
    for (const [name, value] of labels) {
      if (!LABEL_NAME.test(name)) return `streams[${i}]: invalid label name "${name}"`;
      if (typeof value !== 'string') return `streams[${i}]: label ${name} must be a string`;
    }
    if (!Array.isArray(values)) return `streams[${i}].values must be an array`;
    for (const [j, value] of values.entries()) {
      if (!Array.isArray(value) || value.length < 2 || value.length > 3) {
        return `streams[${i}].values[${j}] must be [timestamp, line] or [timestamp, line, metadata]`;
      }
      const [ts, line, metadata] = value as unknown[];
      if (typeof ts !== 'string') return `streams[${i}].values[${j}]: timestamp must be a string of unix nanoseconds, got ${typeof ts}`;
      if (!/^\d+$/.test(ts)) return `streams[${i}].values[${j}]: timestamp "${ts}" is not unix nanoseconds`;
      if (typeof line !== 'string') return `streams[${i}].values[${j}]: line must be a string`;
      if (metadata !== undefined) {
        if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
          return `streams[${i}].values[${j}]: structured metadata must be an object`;
        }
        for (const [key, item] of Object.entries(metadata)) {
          if (typeof item !== 'string') return `streams[${i}].values[${j}]: structured metadata ${key} must be a string`;
        }
      }
    }
  }
  return streams as LokiStream[];
}

/**
 * Loki's answer to metadata it may not take, from pkg/validation (DisallowedStructuredMetadataErrorMsg), with the
 * stream's labels written as Loki prints them (sorted, `{name="value", …}`); undefined when no entry has any.
 */
function refuseMetadata(streams: readonly LokiStream[]): string | undefined {
  const carrying = streams.find((entry) => entry.values.some((value) => value[2] !== undefined && Object.keys(value[2]).length > 0));
  if (!carrying) return undefined;
  const labels = Object.entries(carrying.stream)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join(', ');
  return `stream '{${labels}}' includes structured metadata, but this feature is disallowed. Please see \`limits_config.allow_structured_metadata\` or contact your Loki administrator to enable it.`;
}

/** Starts the fake on 127.0.0.1 at a random port. */
export async function startLokiFake(options: LokiFakeOptions = {}): Promise<LokiFake> {
  const received: LokiPushReceived[] = [];
  const expectedAuth = options.bearerToken
    ? `Bearer ${options.bearerToken}`
    : options.basicAuth
      ? `Basic ${Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`).toString('base64')}`
      : undefined;

  const http = await startHttpFake({
    contentType: 'text/plain; charset=utf-8',
    formatBody: (body) => (body === undefined ? '' : `${body}\n`),
    route: (req, bytes, programmed): FakeResponse => {
      if (expectedAuth && req.headers.authorization !== expectedAuth) return { status: 401, body: 'Unauthorized' };
      const tenant = req.headers['x-scope-orgid'];
      if (options.orgId && !tenant) return { status: 401, body: 'no org id' };
      if (typeof options.orgId === 'string' && tenant !== options.orgId) return { status: 401, body: 'unknown org id' };
      if (req.url !== '/loki/api/v1/push') return { status: 404, body: '404 page not found' };
      if (req.method !== 'POST') return { status: 405, body: 'method not allowed' };
      const answer = programmed();
      if (answer) return answer;

      const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
      if (contentType !== 'application/json') {
        return { status: 400, body: `unsupported content type "${contentType}": this fake reads application/json only` };
      }
      let text: string;
      try {
        text = req.headers['content-encoding'] === 'gzip' ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
      } catch {
        return { status: 400, body: 'gzip: invalid header' };
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (error) {
        return { status: 400, body: `error parsing push request: ${(error as Error).message}` };
      }
      const verdict = validatePush(body);
      if (typeof verdict === 'string') return { status: 400, body: verdict };
      const refused = options.structuredMetadata === false ? refuseMetadata(verdict) : undefined;
      if (refused) return { status: 400, body: refused };
      received.push({ headers: req.headers, streams: verdict });
      return { status: 204 };
    },
  });
  return {
    url: http.url,
    pushUrl: `${http.url}/loki/api/v1/push`,
    received,
    requests: http.requests,
    respondWith: http.respondWith,
    close: http.close,
  };
}
