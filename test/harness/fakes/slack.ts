/**
 * A loopback stand-in for a Slack incoming webhook (https://api.slack.com/messaging/webhooks), for tests that drive
 * the real `@slack/webhook` client.
 *
 * What it does like Slack: `POST <path>` with a JSON body answers `200 ok` (text/html, as Slack does); a path other
 * than the webhook's answers `404 no_service`; a body that is not JSON answers `400 invalid_payload`; a message with
 * no `text`, `blocks` nor `attachments` answers `400 no_text`. Programmed answers (`respondWith`) replace the next
 * calls' answers one by one: any status, body and headers (`429` + `Retry-After`, `403 invalid_token`,
 * `410 channel_is_archived`, `500 rollup_error`), optionally after a delay longer than the client's timeout.
 *
 * What it does not cover: TLS, Slack's real rate-limit accounting (1 message per second per webhook, bursts), the
 * Block Kit validator (a message with a malformed block is accepted here; Slack answers `invalid_blocks`), text
 * length limits, workflow webhooks (`hooks.slack.com/triggers/…`) and redirects.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';

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

export interface SlackFake {
  /** The full webhook URL (its path is the secret part, as on Slack). */
  readonly url: string;
  /** Every JSON body received, in order, whatever was answered. */
  readonly received: unknown[];
  /** Every request received, with the status answered. */
  readonly requests: FakeRequest[];
  /** Queues answers for the next calls, one per call; once used up, calls get Slack's normal answers again. */
  respondWith(...responses: FakeResponse[]): void;
  close(): Promise<void>;
}

/** Starts the fake on 127.0.0.1 at a random port. */
export async function startSlackFake(options: { path?: string } = {}): Promise<SlackFake> {
  const path = options.path ?? '/services/T0PGWARDEN/B0FAKEHOOK/fakeSecretToken1234567890';
  const received: unknown[] = [];
  const requests: FakeRequest[] = [];
  const queue: FakeResponse[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const answer = (response: FakeResponse) => {
        requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw, status: response.status });
        const finish = () => {
          res.writeHead(response.status, { 'Content-Type': 'text/html', ...response.headers });
          res.end(response.body ?? '');
        };
        if (!response.delayMs) return finish();
        const timer = setTimeout(() => {
          timers.delete(timer);
          finish();
        }, response.delayMs);
        timers.add(timer);
      };

      if (req.method !== 'POST' || req.url !== path) return answer({ status: 404, body: 'no_service' });
      let message: unknown;
      try {
        message = JSON.parse(raw);
      } catch {
        return answer(queue.shift() ?? { status: 400, body: 'invalid_payload' });
      }
      received.push(message);
      const programmed = queue.shift();
      if (programmed) return answer(programmed);
      const fields = typeof message === 'object' && message !== null ? (message as Record<string, unknown>) : {};
      if (!fields.text && !fields.blocks && !fields.attachments) return answer({ status: 400, body: 'no_text' });
      answer({ status: 200, body: 'ok' });
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    received,
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
