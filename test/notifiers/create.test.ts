import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../shared/config/index.ts';
import { createConsoleNotifier, createNotifiers, parseRetryAfter } from '../../shared/notifiers/index.ts';
import { type LokiFake, startLokiFake } from '../harness/fakes/loki.ts';
import { type SlackFake, startSlackFake } from '../harness/fakes/slack.ts';
import { sampleEvent } from './fixtures.ts';

describe('createNotifiers', () => {
  let slack: SlackFake;
  let loki: LokiFake;
  beforeAll(async () => {
    slack = await startSlackFake();
    loki = await startLokiFake({ orgId: 'ops' });
  });
  afterAll(async () => {
    await slack.close();
    await loki.close();
  });

  it('builds one notifier per configured channel, each delivering to its service', async () => {
    const config = configSchema.parse({
      slack: { webhookUrl: slack.url, timeout: '5s' },
      loki: { url: loki.url, labels: { env: 'staging' }, orgId: 'ops' },
    });
    const notifiers = createNotifiers(config);
    expect(Object.keys(notifiers).sort()).toEqual(['loki', 'slack']);
    expect(notifiers.slack?.channel).toBe('slack');
    expect(notifiers.loki?.channel).toBe('loki');

    const event = sampleEvent();
    expect(await notifiers.slack?.send(event)).toEqual({ kind: 'sent', status: 200 });
    expect(await notifiers.loki?.send(event)).toEqual({ kind: 'sent', status: 204 });
    expect((slack.received[0] as { text: string }).text).toContain('Critical: Total connections on orders / pg-1');
    expect(loki.received[0]?.streams[0]?.stream).toMatchObject({ app: 'pgwarden', env: 'staging', cluster: 'orders' });
  });

  it('builds only what is configured, and the console sink only when asked and nothing else is', async () => {
    expect(createNotifiers(configSchema.parse({ loki: { url: loki.url } }))).toEqual({
      loki: expect.objectContaining({ channel: 'loki' }),
    });
    expect(createNotifiers(configSchema.parse({}))).toEqual({});

    const lines: string[] = [];
    const fallback = createNotifiers(configSchema.parse({}), { consoleFallback: (line) => lines.push(line) });
    expect(Object.keys(fallback)).toEqual(['slack']);
    expect(await fallback.slack?.send(sampleEvent())).toEqual({ kind: 'sent', status: 0 });
    expect(lines).toHaveLength(1);

    const withSlack = createNotifiers(configSchema.parse({ slack: { webhookUrl: slack.url } }), {
      consoleFallback: (line) => lines.push(line),
    });
    await withSlack.slack?.send(sampleEvent());
    expect(lines).toHaveLength(1);
  });
});

describe('createConsoleNotifier', () => {
  it('writes one readable line per event, redacted, under the channel it stands in for', async () => {
    const lines: string[] = [];
    const notifier = createConsoleNotifier((line) => lines.push(line), { channel: 'loki' });
    expect(notifier.channel).toBe('loki');
    await notifier.send(sampleEvent());
    await notifier.send(
      sampleEvent({
        status: 'resolved',
        rule: 'connect_failure',
        value: undefined,
        threshold: undefined,
        summary: 'postgres://monitor:hunter2-secret@db:5432/app reachable again',
      }),
    );
    expect(lines).toEqual([
      '2026-03-01T12:00:00.000Z critical connections_total firing: 120 connections on orders/pg-1 (app), threshold 100 · ' +
        'value 120 (threshold 100) · database app · rule connections_total · event 7d1c2f4e-8a3b-4c5d-9e6f-0a1b2c3d4e5f',
      '2026-03-01T12:00:00.000Z critical connect_failure resolved: postgres://monitor:***@db:5432/app reachable again · ' +
        'database app · rule connect_failure · event 7d1c2f4e-8a3b-4c5d-9e6f-0a1b2c3d4e5f',
    ]);
    expect(createConsoleNotifier(() => {}).channel).toBe('slack');
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2026-03-01T12:00:00Z');
  it('reads delta-seconds and HTTP-dates, and ignores what it cannot read', () => {
    expect(parseRetryAfter('30', now)).toBe(30_000);
    expect(parseRetryAfter('1.5', now)).toBe(1500);
    expect(parseRetryAfter('Sun, 01 Mar 2026 12:02:00 GMT', now)).toBe(120_000);
    expect(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
