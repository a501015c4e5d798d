/**
 * The proxy's HTTP API: health and role endpoints for load balancers and probes, the topology as JSON, Prometheus
 * metrics, and drain/undrain of one node (bearer token when one is configured).
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../log/index.ts';
import { boundPort, listen } from './listen.ts';
import type { ProxyState } from './proxy.ts';

export interface ApiServerOptions {
  /** When set, drain/undrain need `Authorization: Bearer <token>`. */
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

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

function authorized(request: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const header = request.headers.authorization ?? '';
  const match = /^Bearer\s+(.+)$/i.exec(header);
  if (!match) return false;
  const given = Buffer.from(match[1] as string);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Builds the API server (not listening until `listen`). */
export function createApiServer(options: ApiServerOptions): ApiServer {
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://proxy');
    const method = request.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const nodeAction = /^\/nodes\/([^/]+)\/(drain|undrain)$/.exec(path);
    if (nodeAction) {
      if (method !== 'POST') return sendJson(response, 405, { error: `use POST for ${path}` });
      if (!authorized(request, options.token)) {
        response.setHeader('www-authenticate', 'Bearer');
        return sendJson(response, 401, { error: 'a valid "Authorization: Bearer <token>" header is required' });
      }
      const name = decodeURIComponent(nodeAction[1] as string);
      const action = nodeAction[2] as 'drain' | 'undrain';
      const known = action === 'drain' ? options.drainNode(name) : options.undrainNode(name);
      if (!known) {
        return sendJson(response, 404, { error: `no node named "${name}"`, nodes: options.state().nodes.map((n) => n.name) });
      }
      options.logger.info(`api: ${action}`, { node: name });
      // drainNode/undrainNode have set the flag by now: no need to build the whole state to read it back.
      return sendJson(response, 200, { node: name, drained: action === 'drain' });
    }
    if (method !== 'GET' && method !== 'HEAD') return sendJson(response, 405, { error: `use GET for ${path}` });
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
        return sendJson(response, 404, {
          error: `no such endpoint: ${path}`,
          endpoints: ['/health', '/primary', '/replica', '/topology', '/metrics', '/nodes/{name}/drain', '/nodes/{name}/undrain'],
        });
    }
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
    listen(port, host) {
      return listen(server, port, host, 'HTTP API');
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
