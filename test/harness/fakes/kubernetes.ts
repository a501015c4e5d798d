/**
 * A loopback fake of the Kubernetes API server for the resources pgwarden touches: EndpointSlices
 * (discovery.k8s.io/v1), Endpoints and Services (core/v1) and Leases (coordination.k8s.io/v1).
 * The real `@kubernetes/client-node` talks to it through `KubeConfig` with `server: fake.url`.
 *
 * What it does like the real API server:
 * - objects stored per (apiVersion, kind, namespace, name); one cluster-wide `resourceVersion` counter (like
 *   etcd's revision) bumped on every write; `uid`, `creationTimestamp`, `generation` filled in;
 * - GET (404 `NotFound` Status), LIST (with equality-based `labelSelector`: `a=b`, `a==b`, `a!=b`, `a`, `!a`),
 *   POST (409 `AlreadyExists`), PUT (409 `Conflict` on a stale `metadata.resourceVersion`, 404 when missing),
 *   PATCH with `application/merge-patch+json` (RFC 7386) or `application/json-patch+json` (RFC 6902; a failed
 *   `test` op is 422), 415 for strategic-merge and server-side apply, DELETE (200 Success Status);
 * - every error is a `Status` object with `reason`, `message`, `details` and `code`, as `ApiException.body` shows;
 * - the validation pgwarden depends on: EndpointSlice `addressType` and IPv4 addresses, Endpoints subset IPs
 *   (422 `Invalid` with causes), Lease `acquireTime`/`renewTime` as MicroTime with exactly six fractional digits
 *   (the real server's RFC3339Micro parse rejects millisecond timestamps with 400);
 * - an optional bearer token (401 `Unauthorized` without it).
 *
 * What it does NOT cover: watch and `resourceVersion` semantics on reads (no `?watch`, no `resourceVersionMatch`),
 * field selectors and set-based label selectors (`in`, `notin`: 400 here), pagination (`limit`/`continue`),
 * admission (defaulting, mutating/validating webhooks), RBAC/authorization (any valid token may do anything),
 * server-side apply and strategic merge patch (415 here), `dryRun`, finalizers and graceful deletion,
 * create-on-update for resources that allow it (PUT on a missing object is always 404 here), the EndpointSlice
 * mirroring controller, and the 1.33 deprecation warnings the real server sends for core/v1 Endpoints.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, isIPv4 } from 'node:net';

export type KubeKind = 'EndpointSlice' | 'Endpoints' | 'Lease' | 'Service';

/** A stored object: plain JSON as the API server returns it. */
export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion: string; [key: string]: unknown };
  [key: string]: unknown;
};

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  authorization: string | undefined;
  body: unknown;
  status: number;
}

export interface FailureInjection {
  /** HTTP method to match (`GET`, `PUT`, …); any when omitted. */
  method?: string;
  /** A substring of the request path to match, like `/leases/` or `postgres-ro`. */
  pathIncludes?: string;
  status: number;
  /** How many matching requests fail (default 1). */
  times?: number;
  message?: string;
}

export interface KubernetesFake {
  /** `http://127.0.0.1:PORT`: pass as `server` to `createKubeConfig`. */
  readonly url: string;
  readonly port: number;
  /** Every request answered, oldest first. */
  readonly requests: RecordedRequest[];
  /** The next matching request(s) answer `status` with a Status body, before touching the store. */
  failNext(injection: FailureInjection): void;
  /** Forgets every pending failNext/beforeNext injection. */
  clearInjections(): void;
  /** Runs `action` when the next matching request arrives, before it is handled: another client's edit mid-flight. */
  beforeNext(match: { method?: string; pathIncludes?: string }, action: () => void): void;
  objects(): KubeObject[];
  get(kind: KubeKind, namespace: string, name: string): KubeObject | undefined;
  /** Stores an object as another client would (bumps resourceVersion): simulates someone else's edit. */
  set(object: {
    apiVersion?: string;
    kind: KubeKind;
    metadata: { name: string; namespace: string; [key: string]: unknown };
    [key: string]: unknown;
  }): KubeObject;
  /** Removes an object as another client would. */
  remove(kind: KubeKind, namespace: string, name: string): boolean;
  close(): Promise<void>;
}

interface ResourceType {
  kind: KubeKind;
  plural: string;
  group: string;
  apiVersion: string;
  /** URL prefix: `/api/v1` or `/apis/<group>/<version>`. */
  prefix: string;
}

const RESOURCES: ResourceType[] = [
  {
    kind: 'EndpointSlice',
    plural: 'endpointslices',
    group: 'discovery.k8s.io',
    apiVersion: 'discovery.k8s.io/v1',
    prefix: '/apis/discovery.k8s.io/v1',
  },
  {
    kind: 'Lease',
    plural: 'leases',
    group: 'coordination.k8s.io',
    apiVersion: 'coordination.k8s.io/v1',
    prefix: '/apis/coordination.k8s.io/v1',
  },
  { kind: 'Endpoints', plural: 'endpoints', group: '', apiVersion: 'v1', prefix: '/api/v1' },
  { kind: 'Service', plural: 'services', group: '', apiVersion: 'v1', prefix: '/api/v1' },
];

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Gone',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

class StatusError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: number, message: string, options: { reason?: string; details?: Record<string, unknown> } = {}) {
    super(message);
    this.code = code;
    this.reason = options.reason ?? REASONS[code] ?? 'Unknown';
    this.details = options.details;
  }
}

function statusBody(code: number, reason: string, message: string, details?: Record<string, unknown>) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: code < 400 ? 'Success' : 'Failure', message, reason, details, code };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return clone(patch);
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

function decodePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new StatusError(422, `invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function resolveParent(doc: unknown, tokens: string[]): { parent: unknown; key: string } {
  let node = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[Number(token)];
    else if (isRecord(node)) node = node[token];
    else node = undefined;
    if (node === undefined)
      throw new StatusError(422, `the server rejected our request due to an error in our request: path ${tokens.join('/')} not found`);
  }
  return { parent: node, key: tokens[tokens.length - 1] ?? '' };
}

function readPointer(doc: unknown, tokens: string[]): unknown {
  let node = doc;
  for (const token of tokens) {
    if (Array.isArray(node)) node = node[Number(token)];
    else if (isRecord(node)) node = node[token];
    else return undefined;
  }
  return node;
}

/** RFC 6902 JSON patch (add, remove, replace, move, copy, test) applied to a copy of `doc`. */
function jsonPatch(doc: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw new StatusError(400, 'json patch must be an array of operations');
  let out = clone(doc);
  for (const operation of operations) {
    if (!isRecord(operation) || typeof operation.op !== 'string' || typeof operation.path !== 'string') {
      throw new StatusError(400, `invalid json patch operation ${JSON.stringify(operation)}`);
    }
    const tokens = decodePointer(operation.path);
    const put = (target: string[], value: unknown, replace: boolean) => {
      if (target.length === 0) {
        out = clone(value);
        return;
      }
      const { parent, key } = resolveParent(out, target);
      if (Array.isArray(parent)) {
        const index = key === '-' ? parent.length : Number(key);
        if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new StatusError(422, `array index ${key} out of range`);
        if (replace) parent[index] = clone(value);
        else parent.splice(index, 0, clone(value));
      } else if (isRecord(parent)) {
        if (replace && !(key in parent))
          throw new StatusError(422, `replace operation does not apply: doc is missing key: ${operation.path}`);
        parent[key] = clone(value);
      } else {
        throw new StatusError(422, `path ${target.join('/')} not found`);
      }
    };
    const take = (target: string[]): unknown => {
      const { parent, key } = resolveParent(out, target);
      if (Array.isArray(parent)) {
        const index = Number(key);
        if (!Number.isInteger(index) || index < 0 || index >= parent.length) throw new StatusError(422, `array index ${key} out of range`);
        return parent.splice(index, 1)[0];
      }
      if (isRecord(parent) && key in parent) {
        const value = parent[key];
        delete parent[key];
        return value;
      }
      throw new StatusError(422, `remove operation does not apply: doc is missing path: ${operation.path}`);
    };
    switch (operation.op) {
      case 'add':
        put(tokens, operation.value, false);
        break;
      case 'replace':
        put(tokens, operation.value, true);
        break;
      case 'remove':
        take(tokens);
        break;
      case 'move': {
        if (typeof operation.from !== 'string') throw new StatusError(400, 'move needs "from"');
        put(tokens, take(decodePointer(operation.from)), false);
        break;
      }
      case 'copy': {
        if (typeof operation.from !== 'string') throw new StatusError(400, 'copy needs "from"');
        put(tokens, readPointer(out, decodePointer(operation.from)), false);
        break;
      }
      case 'test': {
        const actual = readPointer(out, tokens);
        if (JSON.stringify(actual) !== JSON.stringify(operation.value)) {
          throw new StatusError(
            422,
            `the server rejected our request due to an error in our request: testing value ${operation.path} failed`,
          );
        }
        break;
      }
      default:
        throw new StatusError(400, `unknown json patch operation ${JSON.stringify(operation.op)}`);
    }
  }
  return out;
}

/** Equality-based label selectors only (what pgwarden sends); set-based syntax is a 400 here. */
function matchesSelector(labels: Record<string, string>, selector: string): boolean {
  for (const raw of selector.split(',')) {
    const term = raw.trim();
    if (term === '') continue;
    if (/\s(in|notin)\s|\(/.test(term)) throw new StatusError(400, `set-based label selectors are not supported by this fake: ${term}`);
    const notEqual = term.match(/^([^!=]+)!=(.*)$/);
    const equal = term.match(/^([^!=]+)==?(.*)$/);
    if (notEqual?.[1] !== undefined) {
      if (labels[notEqual[1].trim()] === (notEqual[2] ?? '').trim()) return false;
    } else if (equal?.[1] !== undefined) {
      if (labels[equal[1].trim()] !== (equal[2] ?? '').trim()) return false;
    } else if (term.startsWith('!')) {
      if (term.slice(1) in labels) return false;
    } else if (!(term in labels)) {
      return false;
    }
  }
  return true;
}

// metav1.MicroTime marshals and parses RFC3339Micro: "2006-01-02T15:04:05.000000Z07:00".
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;

function validate(type: ResourceType, object: Record<string, unknown>): void {
  const spec = isRecord(object.spec) ? object.spec : {};
  const causes: Array<{ reason: string; message: string; field: string }> = [];
  if (type.kind === 'Lease') {
    for (const field of ['acquireTime', 'renewTime']) {
      const value = spec[field];
      if (value !== undefined && value !== null && (typeof value !== 'string' || !MICRO_TIME.test(value))) {
        // A decoding error, not a validation error: the real server answers 400 before validation runs.
        throw new StatusError(
          400,
          `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse`,
        );
      }
    }
  }
  if (type.kind === 'EndpointSlice') {
    const addressType = object.addressType;
    if (!['IPv4', 'IPv6', 'FQDN'].includes(String(addressType))) {
      causes.push({ reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(addressType)}`, field: 'addressType' });
    }
    const endpoints = Array.isArray(object.endpoints) ? object.endpoints : [];
    endpoints.forEach((endpoint, i) => {
      const addresses = isRecord(endpoint) && Array.isArray(endpoint.addresses) ? endpoint.addresses : [];
      if (addresses.length === 0)
        causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: `endpoints[${i}].addresses` });
      addresses.forEach((address, j) => {
        if (addressType === 'IPv4' && !isIPv4(String(address))) {
          causes.push({
            reason: 'FieldValueInvalid',
            message: `Invalid value: ${JSON.stringify(address)}: must be a valid IPv4 address`,
            field: `endpoints[${i}].addresses[${j}]`,
          });
        }
      });
    });
  }
  if (type.kind === 'Endpoints') {
    const subsets = Array.isArray(object.subsets) ? object.subsets : [];
    subsets.forEach((subset, i) => {
      const addresses = isRecord(subset) && Array.isArray(subset.addresses) ? subset.addresses : [];
      addresses.forEach((address, j) => {
        const ip = isRecord(address) ? address.ip : undefined;
        if (typeof ip !== 'string' || isIP(ip) === 0) {
          causes.push({
            reason: 'FieldValueInvalid',
            message: `Invalid value: ${JSON.stringify(ip)}: must be a valid IP address`,
            field: `subsets[${i}].addresses[${j}].ip`,
          });
        }
      });
    });
  }
  const metadata = isRecord(object.metadata) ? object.metadata : {};
  if (causes.length > 0) {
    throw new StatusError(
      422,
      `${type.kind} ${JSON.stringify(metadata.name)} is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
      {
        details: { name: metadata.name, group: type.group, kind: type.plural, causes },
      },
    );
  }
}

interface Route {
  type: ResourceType;
  namespace: string;
  name: string | undefined;
}

function route(path: string): Route | undefined {
  for (const type of RESOURCES) {
    if (!path.startsWith(`${type.prefix}/namespaces/`)) continue;
    const rest = path.slice(`${type.prefix}/namespaces/`.length).split('/');
    if (rest[1] !== type.plural || rest.length > 3 || !rest[0]) continue;
    return { type, namespace: decodeURIComponent(rest[0]), name: rest[2] ? decodeURIComponent(rest[2]) : undefined };
  }
  return undefined;
}

/**
 * Starts the fake on a random loopback port.
 *
 * @example
 * const fake = await startKubernetesFake();
 * const kubeConfig = createKubeConfig({ server: fake.url });
 * // … exercise the adapter, then assert on fake.get('EndpointSlice', 'db', 'postgres-rw-pgwarden-5432')
 * await fake.close();
 */
export async function startKubernetesFake(options: { token?: string } = {}): Promise<KubernetesFake> {
  const store = new Map<string, KubeObject>();
  const requests: RecordedRequest[] = [];
  const failures: Array<Required<Pick<FailureInjection, 'status' | 'times'>> & FailureInjection> = [];
  const hooks: Array<{ method?: string; pathIncludes?: string; action: () => void }> = [];
  let revision = 100;

  const keyOf = (type: ResourceType, namespace: string, name: string) => `${type.apiVersion}|${type.kind}|${namespace}|${name}`;
  const typeOf = (kind: KubeKind): ResourceType => {
    const type = RESOURCES.find((t) => t.kind === kind);
    if (!type) throw new Error(`unknown kind ${kind}`);
    return type;
  };
  const notFound = (type: ResourceType, name: string) =>
    new StatusError(404, `${type.plural}${type.group ? `.${type.group}` : ''} "${name}" not found`, {
      details: { name, group: type.group, kind: type.plural },
    });

  const write = (type: ResourceType, namespace: string, body: Record<string, unknown>, previous: KubeObject | undefined): KubeObject => {
    validate(type, body);
    const metadata = isRecord(body.metadata) ? body.metadata : {};
    revision++;
    const stored = {
      ...clone(body),
      apiVersion: type.apiVersion,
      kind: type.kind,
      metadata: {
        ...clone(metadata),
        name: String(metadata.name),
        namespace,
        uid: previous?.metadata.uid ?? randomUUID(),
        creationTimestamp: previous?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        generation: previous ? Number(previous.metadata.generation ?? 1) + 1 : 1,
        resourceVersion: String(revision),
      },
    } as KubeObject;
    store.set(keyOf(type, namespace, stored.metadata.name), stored);
    return stored;
  };

  const handle = (
    method: string,
    target: Route,
    query: URLSearchParams,
    contentType: string | undefined,
    body: unknown,
  ): { status: number; body: unknown } => {
    const { type, namespace, name } = target;
    if (name === undefined) {
      if (method === 'GET') {
        const selector = query.get('labelSelector') ?? '';
        if (query.get('fieldSelector')) throw new StatusError(400, 'field selectors are not supported by this fake');
        const items = [...store.values()]
          .filter((o) => o.kind === type.kind && o.metadata.namespace === namespace)
          .filter((o) => matchesSelector((o.metadata.labels as Record<string, string> | undefined) ?? {}, selector))
          .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
        return {
          status: 200,
          body: { kind: `${type.kind}List`, apiVersion: type.apiVersion, metadata: { resourceVersion: String(revision) }, items },
        };
      }
      if (method === 'POST') {
        if (!isRecord(body)) throw new StatusError(400, 'the body must be a JSON object');
        const metadata = isRecord(body.metadata) ? body.metadata : {};
        if (metadata.namespace !== undefined && metadata.namespace !== namespace) {
          throw new StatusError(400, 'the namespace of the provided object does not match the namespace sent on the request');
        }
        let objectName = typeof metadata.name === 'string' ? metadata.name : '';
        if (!objectName && typeof metadata.generateName === 'string') objectName = `${metadata.generateName}${randomUUID().slice(0, 5)}`;
        if (!objectName)
          throw new StatusError(422, `${type.kind} is invalid: metadata.name: Required value: name or generateName is required`);
        if (store.has(keyOf(type, namespace, objectName))) {
          throw new StatusError(409, `${type.plural}${type.group ? `.${type.group}` : ''} "${objectName}" already exists`, {
            reason: 'AlreadyExists',
            details: { name: objectName, group: type.group, kind: type.plural },
          });
        }
        const { resourceVersion: _ignored, ...rest } = metadata;
        return { status: 201, body: write(type, namespace, { ...body, metadata: { ...rest, name: objectName } }, undefined) };
      }
      throw new StatusError(405, `the server does not allow this method on the requested resource`);
    }

    const existing = store.get(keyOf(type, namespace, name));
    const conflict = () =>
      new StatusError(
        409,
        `Operation cannot be fulfilled on ${type.plural}${type.group ? `.${type.group}` : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        { details: { name, group: type.group, kind: type.plural } },
      );
    switch (method) {
      case 'GET':
        if (!existing) throw notFound(type, name);
        return { status: 200, body: existing };
      case 'PUT': {
        if (!isRecord(body)) throw new StatusError(400, 'the body must be a JSON object');
        const metadata = isRecord(body.metadata) ? body.metadata : {};
        if (metadata.name !== name)
          throw new StatusError(400, `the name of the object (${String(metadata.name)}) does not match the name on the URL (${name})`);
        if (!existing) throw notFound(type, name);
        if (
          metadata.resourceVersion !== undefined &&
          metadata.resourceVersion !== '' &&
          metadata.resourceVersion !== existing.metadata.resourceVersion
        )
          throw conflict();
        return { status: 200, body: write(type, namespace, body, existing) };
      }
      case 'PATCH': {
        if (!existing) throw notFound(type, name);
        const mediaType = (contentType ?? '').split(';')[0]?.trim();
        let patched: unknown;
        if (mediaType === 'application/merge-patch+json') patched = mergePatch(existing, body);
        else if (mediaType === 'application/json-patch+json') patched = jsonPatch(existing, body);
        else
          throw new StatusError(
            415,
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json`,
          );
        if (!isRecord(patched) || !isRecord(patched.metadata)) throw new StatusError(422, 'the patch removed the object metadata');
        // A resourceVersion inside a patch is a precondition, as on the real server.
        const wanted = patched.metadata.resourceVersion;
        if (wanted !== existing.metadata.resourceVersion) throw conflict();
        patched.metadata.name = name;
        return { status: 200, body: write(type, namespace, patched, existing) };
      }
      case 'DELETE': {
        if (!existing) throw notFound(type, name);
        store.delete(keyOf(type, namespace, name));
        revision++;
        return { status: 200, body: statusBody(200, '', '', { name, group: type.group, kind: type.plural, uid: existing.metadata.uid }) };
      }
      default:
        throw new StatusError(405, `the server does not allow this method on the requested resource`);
    }
  };

  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      const method = request.method ?? 'GET';
      const contentType = request.headers['content-type'];
      const authorization = request.headers.authorization;
      const text = Buffer.concat(chunks).toString('utf8');
      let status = 500;
      let payload: unknown;
      let parsed: unknown;
      try {
        if (text !== '') {
          try {
            parsed = JSON.parse(text) as Json;
          } catch {
            throw new StatusError(400, `the body of the request could not be decoded as JSON`);
          }
        }
        if (options.token !== undefined && authorization !== `Bearer ${options.token}`) throw new StatusError(401, 'Unauthorized');
        const matches = (f: { method?: string; pathIncludes?: string }) =>
          (!f.method || f.method.toUpperCase() === method) && (!f.pathIncludes || url.pathname.includes(f.pathIncludes));
        const hook = hooks.findIndex(matches);
        if (hook >= 0) hooks.splice(hook, 1)[0]?.action();
        const index = failures.findIndex(matches);
        const failure = failures[index];
        if (failure) {
          failure.times--;
          if (failure.times <= 0) failures.splice(index, 1);
          throw new StatusError(failure.status, failure.message ?? `injected failure (${failure.status})`);
        }
        const target = route(url.pathname);
        if (!target) throw new StatusError(404, 'the server could not find the requested resource');
        const result = handle(method, target, url.searchParams, contentType, parsed);
        status = result.status;
        payload = result.body;
      } catch (error) {
        if (error instanceof StatusError) {
          status = error.code;
          payload = statusBody(error.code, error.reason, error.message, error.details);
        } else {
          status = 500;
          payload = statusBody(500, 'InternalError', error instanceof Error ? error.message : String(error));
        }
      }
      requests.push({
        method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        contentType,
        authorization,
        body: parsed,
        status,
      });
      const out = JSON.stringify(payload);
      response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      response.end(out);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    failNext(injection) {
      failures.push({ ...injection, times: injection.times ?? 1 });
    },
    clearInjections() {
      failures.length = 0;
      hooks.length = 0;
    },
    beforeNext(match, action) {
      hooks.push({ ...match, action });
    },
    objects: () => [...store.values()].map((o) => clone(o)),
    get(kind, namespace, name) {
      const found = store.get(keyOf(typeOf(kind), namespace, name));
      return found ? clone(found) : undefined;
    },
    set(object) {
      const type = typeOf(object.kind);
      const previous = store.get(keyOf(type, object.metadata.namespace, object.metadata.name));
      return clone(write(type, object.metadata.namespace, object, previous));
    },
    remove(kind, namespace, name) {
      const removed = store.delete(keyOf(typeOf(kind), namespace, name));
      if (removed) revision++;
      return removed;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
