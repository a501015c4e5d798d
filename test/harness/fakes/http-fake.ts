/**
 * The scaffolding the loopback HTTP fakes of Slack and Loki share: a `node:http` server on 127.0.0.1 at a random
 * port that reads each body, records each request with the status answered, plays programmed answers
 * (`respondWith`) when the fake's route asks for the next one, delays an answer when told, and closes with its
 * pending delays cleared. What each service accepts or refuses is the route's business (see slack.ts, loki.ts).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';

/** One programmed answer. */
export interface FakeResponse {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Wait this long before answering (longer than the client timeout simulates a hung service). */
  delayMs?: number;
}

export interface FakeRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body text. */
  raw: string;
  /** The status this fake answered (or will answer, for a delayed one). */
  status: number;
}

export interface HttpFake {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Every request received, with the status answered. */
  readonly requests: FakeRequest[];
  /** Queues answers for the next calls whose route takes one, one per call. */
  respondWith(...responses: FakeResponse[]): void;
  close(): Promise<void>;
}

export interface HttpFakeOptions {
  /** The `Content-Type` of every answer (a programmed answer's headers may override it). */
  contentType: string;
  /** How an answer's body is written. Default: as given. */
  formatBody?: (body: string | undefined) => string;
  /** Decides the answer to one request; `programmed()` takes the next programmed answer, if any is queued. */
  route: (req: IncomingMessage, body: Buffer, programmed: () => FakeResponse | undefined) => FakeResponse;
}

/** Starts a fake on 127.0.0.1 at a random port. */
export async function startHttpFake(options: HttpFakeOptions): Promise<HttpFake> {
  const requests: FakeRequest[] = [];
  const queue: FakeResponse[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const formatBody = options.formatBody ?? ((body) => body ?? '');

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const response = options.route(req, body, () => queue.shift());
      requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        raw: body.toString('utf8'),
        status: response.status,
      });
      const finish = () => {
        res.writeHead(response.status, { 'Content-Type': options.contentType, ...response.headers });
        res.end(formatBody(response.body));
      };
      if (!response.delayMs) return finish();
      const timer = setTimeout(() => {
        timers.delete(timer);
        finish();
      }, response.delayMs);
      timers.add(timer);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    respondWith: (...responses) => {
      queue.push(...responses);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
