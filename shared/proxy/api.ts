/**
 * The proxy's HTTP API: health and role endpoints for load balancers and probes, the topology as JSON, Prometheus
 * metrics (reads, open to whoever reaches the port), and drain/undrain of one node (mutations: they pass the one
 * fail-closed guard in api-auth.ts, so they need the bearer token, and are refused outright while none is set).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../log/index.ts';
import { authorizeMutation, describeApiExposure, MUTATIONS_DISABLED } from './api-auth.ts';
import { boundPort, listen } from './listen.ts';
import type { ProxyState } from './types.ts';

export interface ApiServerOptions {
  /** Mutations need `Authorization: Bearer <token>`; without a token they are disabled (403). */
  readonly token: string | undefined;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly state: () => ProxyState;
  readonly drainNode: (name: string) => boolean;
  readonly undrainNode: (name: string) => boolean;
}

export interface ApiServer {
  listen(port: number, host: string): Promise<void>;
  port(): number;
  close(): Promise<void>;
}

/** A route that changes the proxy: reached only through the guard, by POST. */
interface MutationRoute {
  readonly pattern: RegExp;
  readonly run: (match: RegExpExecArray, response: ServerResponse) => void;
}

/** Methods that only read; every other method is a mutation and meets the guard first. */
const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

const ENDPOINTS = ['/health', '/primary', '/replica', '/topology', '/metrics', '/nodes/{name}/drain', '/nodes/{name}/undrain'];

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

/** The mutation routes; a new one added here is guarded like the others without a line of its own. */
function mutationRoutes(options: ApiServerOptions): MutationRoute[] {
  return [
    {
      pattern: /^\/nodes\/([^/]+)\/(drain|undrain)$/,
      run(match, response) {
        const name = decodeURIComponent(match[1] as string);
        const action = match[2] as 'drain' | 'undrain';
        const known = action === 'drain' ? options.drainNode(name) : options.undrainNode(name);
        if (!known) {
          return sendJson(response, 404, { error: `no node named "${name}"`, nodes: options.state().nodes.map((n) => n.name) });
        }
        options.logger.info(`api: ${action}`, { node: name });
        // drainNode/undrainNode have set the flag by now: no need to build the whole state to read it back.
        sendJson(response, 200, { node: name, drained: action === 'drain' });
      },
    },
  ];
}

/** The mutation route `path` names, with its match, or undefined. */
function findMutation(routes: readonly MutationRoute[], path: string): { run: MutationRoute['run']; match: RegExpExecArray } | undefined {
  for (const route of routes) {
    const match = route.pattern.exec(path);
    if (match) return { run: route.run, match };
  }
  return undefined;
}

/** Answers a read: the role endpoints, the topology and the metrics. */
async function handleRead(options: ApiServerOptions, path: string, response: ServerResponse): Promise<void> {
  const state = options.state();
  switch (path) {
    case '/health':
      return sendJson(response, state.status === 'running' ? 200 : 503, { status: state.status, leader: state.leader });
    case '/primary':
      return state.primary
        ? sendJson(response, 200, { primary: state.primary })
        : sendJson(response, 503, { primary: null, reason: state.rwRefusal });
    case '/replica': {
      const target = state.replicas.length > 0 ? state.replicas : state.primary ? [state.primary] : [];
      return target.length > 0
        ? sendJson(response, 200, { replicas: state.replicas, fallbackToPrimary: state.replicas.length === 0 })
        : sendJson(response, 503, { replicas: [], reason: 'no healthy replica and no primary' });
    }
    case '/topology':
      return sendJson(response, 200, state);
    case '/metrics': {
      const body = await options.registry.metrics();
      response.writeHead(200, { 'content-type': options.registry.contentType });
      response.end(body);
      return;
    }
    default:
      return sendJson(response, 404, { error: `no such endpoint: ${path}`, endpoints: ENDPOINTS });
  }
}

/** Builds the API server (not listening until `listen`). */
export function createApiServer(options: ApiServerOptions): ApiServer {
  const mutations = mutationRoutes(options);

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://proxy');
    const method = request.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const route = findMutation(mutations, path);
    if (READ_METHODS.has(method)) {
      if (route) return sendJson(response, 405, { error: `use POST for ${path}` });
      return handleRead(options, path, response);
    }
    // The guard comes before routing: without the token nothing past this line runs, known route or not.
    const verdict = authorizeMutation(request.headers.authorization, options.token);
    if (verdict === 'disabled') return sendJson(response, 403, { error: MUTATIONS_DISABLED });
    if (verdict === 'unauthorized') {
      response.setHeader('www-authenticate', 'Bearer');
      return sendJson(response, 401, { error: 'a valid "Authorization: Bearer <token>" header is required' });
    }
    if (!route) {
      return ENDPOINTS.includes(path)
        ? sendJson(response, 405, { error: `use GET for ${path}` })
        : sendJson(response, 404, { error: `no such endpoint: ${path}`, endpoints: ENDPOINTS });
    }
    if (method !== 'POST') return sendJson(response, 405, { error: `use POST for ${path}` });
    route.run(route.match, response);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      options.logger.error('api request failed', { path: request.url, error });
      if (!response.headersSent) sendJson(response, 500, { error: 'internal error' });
      else response.destroy();
    });
  });
  server.keepAliveTimeout = 5000;

  return {
    async listen(port, host) {
      await listen(server, port, host, 'HTTP API');
      const address = `${host}:${boundPort(server)}`;
      const notice = describeApiExposure(host, address, options.token);
      if (notice) options.logger[notice.level](notice.message, { address });
    },
    port() {
      return boundPort(server);
    },
    close() {
      return new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
