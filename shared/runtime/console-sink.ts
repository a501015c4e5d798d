import { createServer, type Server } from 'node:http';

export interface ConsoleSink {
  /** An incoming-webhook URL on 127.0.0.1: configure it as the Slack webhook. */
  readonly url: string;
  /** Until `until`, answer 503 like a Slack outage (the senders record failures and retry). */
  failUntil(until: Date | null): void;
  readonly received: number;
  close(): Promise<void>;
}

/**
 * The local stand-in for Slack when none is configured: a loopback server that accepts incoming-webhook posts
 * (200 `ok`) and hands each message's text to `onMessage`. Alerts then take the deployed path end to end
 * (ledger, queue, the send-slack handler, @slack/webhook), and an outage can be staged by making it fail.
 */
export async function startConsoleSink(
  onMessage: (text: string, body: unknown) => void,
  clock: () => Date = () => new Date(),
): Promise<ConsoleSink> {
  let failingUntil: Date | null = null;
  let received = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (failingUntil && clock() < failingUntil) {
        response.writeHead(503, { 'content-type': 'text/plain' }).end('service_unavailable');
        return;
      }
      let body: { text?: unknown } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { text?: unknown };
      } catch {
        response.writeHead(400, { 'content-type': 'text/plain' }).end('invalid_payload');
        return;
      }
      received++;
      onMessage(typeof body.text === 'string' ? body.text : JSON.stringify(body), body);
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/services/local/console`,
    failUntil(until) {
      failingUntil = until;
    },
    get received() {
      return received;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
