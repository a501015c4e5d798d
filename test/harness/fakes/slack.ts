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
import { type FakeRequest, type FakeResponse, startHttpFake } from './http-fake.ts';

export type { FakeRequest, FakeResponse } from './http-fake.ts';

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
  const http = await startHttpFake({
    contentType: 'text/html',
    route: (req, body, programmed): FakeResponse => {
      if (req.method !== 'POST' || req.url !== path) return { status: 404, body: 'no_service' };
      let message: unknown;
      try {
        message = JSON.parse(body.toString('utf8'));
      } catch {
        return programmed() ?? { status: 400, body: 'invalid_payload' };
      }
      received.push(message);
      const answer = programmed();
      if (answer) return answer;
      const fields = typeof message === 'object' && message !== null ? (message as Record<string, unknown>) : {};
      if (!fields.text && !fields.blocks && !fields.attachments) return { status: 400, body: 'no_text' };
      return { status: 200, body: 'ok' };
    },
  });
  return { url: `${http.url}${path}`, received, requests: http.requests, respondWith: http.respondWith, close: http.close };
}
