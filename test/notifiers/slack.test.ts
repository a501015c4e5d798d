import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../shared/log/index.ts';
import { createSlackNotifier, NotifierOptionsError, renderSlackMessage, SLACK_COLORS } from '../../shared/notifiers/index.ts';
import { closedPort } from '../harness/cluster.ts';
import { type SlackFake, startSlackFake } from '../harness/fakes/slack.ts';
import { sampleEvent } from './fixtures.ts';

type Block = { type: string; text?: { type: string; text: string; emoji?: boolean }; fields?: Array<{ type: string; text: string }> };
type Attachment = { color: string; blocks: Block[] };

function parts(message: unknown) {
  const { text, blocks: top, attachments } = message as { text: string; blocks: Block[]; attachments: Attachment[] };
  expect(top).toHaveLength(1);
  expect(attachments).toHaveLength(1);
  const [attachment] = attachments as [Attachment];
  const blocks = attachment.blocks as Array<Block & { elements?: Array<{ type: string; text: string }> }>;
  return {
    text,
    color: attachment.color,
    header: top[0],
    summary: blocks[0],
    fields: blocks[1]?.fields?.map((field) => field.text),
    contexts: blocks.slice(2).map((block) => ({ type: block.type, text: block.elements?.map((element) => element.text).join(' ') })),
  };
}

describe('renderSlackMessage', () => {
  it('renders a firing critical alert with a red bar, a titled header, the summary and every field', () => {
    const message = parts(renderSlackMessage(sampleEvent()));
    expect(message.color).toBe('#E01E5A');
    expect(message.header).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: ':rotating_light: Critical: Total connections on orders / pg-1', emoji: true },
    });
    expect(message.summary).toEqual({
      type: 'section',
      text: { type: 'mrkdwn', text: '120 connections on orders/pg-1 (app), threshold 100' },
    });
    expect(message.fields).toEqual([
      '*Cluster*\norders',
      '*Node*\npg-1',
      '*Database*\napp',
      '*Value*\n120 (threshold 100)',
      '*Observed*\n<!date^1772366400^{date_short_pretty} {time_secs}|2026-03-01T12:00:00.000Z>',
      '*Rule*\n`connections_total`',
    ]);
    expect(message.contexts).toEqual([
      { type: 'context', text: 'firing · critical · raised by watchdog · event 7d1c2f4e-8a3b-4c5d-9e6f-0a1b2c3d4e5f' },
    ]);
    expect(message.text).toBe(
      ':rotating_light: Critical: Total connections on orders / pg-1: 120 connections on orders/pg-1 (app), threshold 100',
    );
  });

  it('renders a resolved alert in green with a "Resolved" title whatever its severity', () => {
    const message = parts(renderSlackMessage(sampleEvent({ status: 'resolved', summary: 'connections on orders/pg-1 back to 40' })));
    expect(message.color).toBe(SLACK_COLORS.resolved);
    expect(message.color).toBe('#2EB67D');
    expect(message.header?.text?.text).toBe(':white_check_mark: Resolved: Total connections on orders / pg-1');
    expect(message.text).toBe(':white_check_mark: Resolved: Total connections on orders / pg-1: connections on orders/pg-1 back to 40');
    expect(message.contexts.at(-1)?.text).toMatch(/^resolved · critical · /);
  });

  it('says plainly that a test event is a test, in the title, a notice and the fallback text', () => {
    const event = sampleEvent({
      rule: 'test',
      severity: 'info',
      node: undefined,
      database: undefined,
      value: undefined,
      threshold: undefined,
      client: 'cli',
      summary: 'pgwarden test notification for orders',
    });
    const message = parts(renderSlackMessage(event));
    expect(message.color).toBe('#36C5F0');
    expect(message.header?.text?.text).toBe(':information_source: [TEST] Info: pgwarden test alert on orders');
    expect(message.fields).toEqual([
      '*Cluster*\norders',
      '*Observed*\n<!date^1772366400^{date_short_pretty} {time_secs}|2026-03-01T12:00:00.000Z>',
      '*Rule*\n`test`',
    ]);
    expect(message.contexts[0]).toEqual({
      type: 'context',
      text: ':test_tube: *This is a test notification* sent by pgwarden to check that alerts reach this channel. No action is needed.',
    });
    expect(message.text).toBe(
      ':information_source: [TEST] Info: pgwarden test alert on orders: pgwarden test notification for orders (test notification, no action needed)',
    );
  });

  it('colours warnings amber and shows saturation in percent and replica lag in bytes', () => {
    const saturation = parts(
      renderSlackMessage(sampleEvent({ rule: 'connections_saturation', severity: 'warning', value: 87.25, threshold: 85 })),
    );
    expect(saturation.color).toBe('#ECB22E');
    expect(saturation.header?.text?.text).toBe(':warning: Warning: Connection saturation on orders / pg-1');
    expect(saturation.fields).toContain('*Value*\n87.3% (threshold 85%)');
    const lag = parts(renderSlackMessage(sampleEvent({ rule: 'replica_lag', value: 50 * 1024 * 1024, threshold: 16 * 1024 * 1024 })));
    expect(lag.fields).toContain('*Value*\n50MB (threshold 16MB)');
  });

  it('masks passwords quoted in a summary and escapes mrkdwn control characters', () => {
    const message = parts(
      renderSlackMessage(
        sampleEvent({
          rule: 'connect_failure',
          summary: 'cannot reach postgres://monitor:hunter2-secret@10.0.0.5:5432/app <timeout> & gave up',
        }),
      ),
    );
    const summary = message.summary?.text?.text ?? '';
    expect(summary).toBe('cannot reach postgres://monitor:***@10.0.0.5:5432/app &lt;timeout&gt; &amp; gave up');
    expect(JSON.stringify(message)).not.toContain('hunter2-secret');
  });
});

describe('createSlackNotifier against a loopback Slack', () => {
  let slack: SlackFake;
  const secretToken = 'fakeSecretToken1234567890';

  beforeAll(async () => {
    slack = await startSlackFake();
  });
  afterAll(() => slack.close());
  beforeEach(() => {
    slack.received.length = 0;
  });

  it('posts the rendered message through @slack/webhook and reports it sent', async () => {
    const event = sampleEvent();
    const outcome = await createSlackNotifier({ webhookUrl: slack.url }).send(event);
    expect(outcome).toEqual({ kind: 'sent', status: 200 });
    expect(slack.received).toEqual([renderSlackMessage(event)]);
    expect(parts(slack.received[0]).header?.text?.text).toBe(':rotating_light: Critical: Total connections on orders / pg-1');
    expect(slack.requests.at(-1)?.headers['content-type']).toBe('application/json');
  });

  it('turns 429 with Retry-After in seconds into a retry no earlier than Slack asked', async () => {
    slack.respondWith({ status: 429, body: 'rate_limited', headers: { 'Retry-After': '30' } });
    const outcome = await createSlackNotifier({ webhookUrl: slack.url }).send(sampleEvent());
    expect(outcome).toEqual({
      kind: 'retry',
      status: 429,
      retryAfterMs: 30_000,
      error: 'slack answered 429: rate_limited (retry after 30s)',
    });
  });

  it('reads a Retry-After given as an HTTP-date against the injected clock', async () => {
    const now = new Date('2026-03-01T12:00:00Z');
    slack.respondWith({ status: 429, body: 'rate_limited', headers: { 'Retry-After': new Date(now.getTime() + 90_000).toUTCString() } });
    const outcome = await createSlackNotifier({ webhookUrl: slack.url, clock: () => now }).send(sampleEvent());
    expect(outcome).toMatchObject({ kind: 'retry', status: 429, retryAfterMs: 90_000 });
  });

  it.each([
    [500, 'rollup_error'],
    [503, 'service_unavailable'],
  ])('retries after a %i', async (status, body) => {
    slack.respondWith({ status, body });
    const outcome = await createSlackNotifier({ webhookUrl: slack.url }).send(sampleEvent());
    expect(outcome).toEqual({ kind: 'retry', status, error: `slack answered ${status}: ${body}` });
  });

  it.each([
    [404, 'no_service'],
    [403, 'invalid_token'],
    [410, 'channel_is_archived'],
    [400, 'invalid_payload'],
  ])('gives up at once on %i %s, quoting Slack', async (status, body) => {
    slack.respondWith({ status, body });
    const outcome = await createSlackNotifier({ webhookUrl: slack.url }).send(sampleEvent());
    expect(outcome).toEqual({ kind: 'permanent', status, error: `slack answered ${status}: ${body}` });
  });

  it('gets a real no_service from a webhook path that does not exist', async () => {
    const wrong = slack.url.replace(secretToken, 'revokedToken0000000000000');
    const outcome = await createSlackNotifier({ webhookUrl: wrong }).send(sampleEvent());
    expect(outcome).toEqual({ kind: 'permanent', status: 404, error: 'slack answered 404: no_service' });
  });

  it('retries when Slack does not answer within the timeout', async () => {
    slack.respondWith({ status: 200, body: 'ok', delayMs: 10_000 });
    const outcome = await createSlackNotifier({ webhookUrl: slack.url, timeoutMs: 200 }).send(sampleEvent());
    expect(outcome).toEqual({ kind: 'retry', error: 'slack did not answer within 200ms' });
  });

  it('retries when the connection is refused', async () => {
    const port = await closedPort();
    const outcome = await createSlackNotifier({ webhookUrl: `http://127.0.0.1:${port}/services/T1/B1/${secretToken}` }).send(sampleEvent());
    expect(outcome).toEqual({ kind: 'retry', error: `slack unreachable: connect ECONNREFUSED 127.0.0.1:${port}` });
  });

  it('gives up on a redirect instead of following it with the payload', async () => {
    slack.respondWith({ status: 302, headers: { Location: 'http://127.0.0.1:9/elsewhere' } });
    const outcome = await createSlackNotifier({ webhookUrl: slack.url }).send(sampleEvent());
    expect(outcome).toEqual({ kind: 'permanent', error: 'slack answered with a redirect: the URL is wrong' });
  });

  it('never lets the webhook URL into an outcome or a log line', async () => {
    const logger = createMemoryLogger();
    const outcomes = [];
    slack.respondWith(
      { status: 404, body: `no_service for ${slack.url}` },
      { status: 500, body: `upstream ${new URL(slack.url).pathname} failed` },
      { status: 200, body: 'ok', delayMs: 10_000 },
    );
    const notifier = createSlackNotifier({ webhookUrl: slack.url, timeoutMs: 200, logger });
    outcomes.push(await notifier.send(sampleEvent()), await notifier.send(sampleEvent()), await notifier.send(sampleEvent()));
    // A fetch that fails quoting the URL, as undici does for a URL it cannot parse.
    const quoting = createSlackNotifier({
      webhookUrl: slack.url,
      logger,
      fetch: async (input) => {
        throw new TypeError(`Failed to parse URL from ${String(input)}`);
      },
    });
    outcomes.push(await quoting.send(sampleEvent()));

    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['permanent', 'retry', 'retry', 'retry']);
    expect(outcomes.map((outcome) => (outcome.kind === 'sent' ? '' : outcome.error))).toEqual([
      'slack answered 404: no_service for ***',
      'slack answered 500: upstream *** failed',
      'slack did not answer within 200ms',
      'slack unreachable: Failed to parse URL from ***',
    ]);
    expect(logger.records).toHaveLength(4);
    for (const record of logger.records) {
      expect(record.level).toBe('warn');
      expect(JSON.stringify(record)).not.toContain(secretToken);
    }
  });

  it('refuses a plain-http webhook to a remote host without echoing its secret path', () => {
    let thrown: unknown;
    try {
      createSlackNotifier({ webhookUrl: `http://hooks.example.com/services/T1/B1/${secretToken}` });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(NotifierOptionsError);
    expect((thrown as Error).message).toBe(
      'webhookUrl: must use https (http is allowed only for loopback hosts), got http://hooks.example.com',
    );
  });
});
