import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../shared/log/index.ts';
import { createLokiNotifier, NotifierConfigError, renderLokiPush } from '../../shared/notifiers/index.ts';
import { closedPort } from '../harness/cluster.ts';
import { type LokiFake, startLokiFake } from '../harness/fakes/loki.ts';
import { sampleEvent } from './fixtures.ts';

const EXPECTED_LINE =
  'msg="120 connections on orders/pg-1 (app), threshold 100" title="Critical: Total connections on orders / pg-1" severity=critical ' +
  'status=firing rule=connections_total cluster=orders node=pg-1 database=app value=120 threshold=100 ' +
  'observed_at=2026-03-01T12:00:00.000Z client=watchdog event_id=7d1c2f4e-8a3b-4c5d-9e6f-0a1b2c3d4e5f';

describe('renderLokiPush', () => {
  it('puts low-cardinality labels on the stream and the event id, node, database, value and threshold in metadata', () => {
    const push = renderLokiPush(sampleEvent(), { env: 'prod', region: 'eu-west-1' });
    expect(push.streams).toHaveLength(1);
    const [stream] = push.streams;
    expect(stream?.stream).toEqual({
      app: 'pgwarden',
      env: 'prod',
      region: 'eu-west-1',
      cluster: 'orders',
      rule: 'connections_total',
      severity: 'critical',
      status: 'firing',
    });
    expect(stream?.values).toEqual([
      [
        '1772366400000000000',
        EXPECTED_LINE,
        { event_id: '7d1c2f4e-8a3b-4c5d-9e6f-0a1b2c3d4e5f', node: 'pg-1', database: 'app', value: '120', threshold: '100' },
      ],
    ]);
  });

  it('keeps nanosecond precision in a string timestamp and leaves absent fields out of metadata and line', () => {
    const event = sampleEvent({
      observedAt: '2026-03-01T12:00:00.123456789Z',
      status: 'resolved',
      node: undefined,
      database: undefined,
      value: undefined,
      threshold: undefined,
      labels: { 'team.name': 'dba' },
    });
    const [timestamp, line, metadata] = renderLokiPush(event).streams[0]?.values[0] ?? [];
    expect(timestamp).toBe('1772366400123456789');
    expect(typeof timestamp).toBe('string');
    expect(metadata).toEqual({ event_id: event.id });
    expect(line).toBe(
      'msg="120 connections on orders/pg-1 (app), threshold 100" title="Resolved: Total connections on orders" severity=critical ' +
        'status=resolved rule=connections_total cluster=orders observed_at=2026-03-01T12:00:00.123456789Z client=watchdog ' +
        `event_id=${event.id} label_team_name=dba`,
    );
  });

  it('lets a static label rename the app but never the event labels', () => {
    const stream = renderLokiPush(sampleEvent(), { app: 'pgwarden-eu', cluster: 'spoofed' }).streams[0]?.stream ?? {};
    expect(stream).toMatchObject({ app: 'pgwarden-eu', cluster: 'orders' });
  });

  it('masks a password quoted in the summary', () => {
    const push = renderLokiPush(
      sampleEvent({ rule: 'connect_failure', summary: 'cannot reach postgres://monitor:hunter2-secret@db:5432/app' }),
    );
    expect(push.streams[0]?.values[0]?.[1]).toContain('msg="cannot reach postgres://monitor:***@db:5432/app"');
    expect(JSON.stringify(push)).not.toContain('hunter2-secret');
  });
});

describe('createLokiNotifier against a loopback Loki', () => {
  let loki: LokiFake;
  let authed: LokiFake;
  const token = 'glc_loki-bearer-secret-0123456789';

  beforeAll(async () => {
    loki = await startLokiFake();
    authed = await startLokiFake({ bearerToken: token, orgId: 'ops' });
  });
  afterAll(async () => {
    await loki.close();
    await authed.close();
  });
  beforeEach(() => {
    loki.received.length = 0;
    authed.received.length = 0;
  });

  it('pushes one stream with labels, a string ns timestamp, metadata, the tenant and the bearer token', async () => {
    const event = sampleEvent();
    const notifier = createLokiNotifier({ url: authed.url, labels: { env: 'prod' }, orgId: 'ops', bearerToken: token });
    expect(notifier.channel).toBe('loki');
    expect(await notifier.send(event)).toEqual({ kind: 'sent', status: 204 });
    expect(authed.received).toHaveLength(1);
    const [push] = authed.received;
    expect(push?.headers['content-type']).toBe('application/json');
    expect(push?.headers['x-scope-orgid']).toBe('ops');
    expect(push?.headers.authorization).toBe(`Bearer ${token}`);
    expect(push?.streams).toEqual([
      {
        stream: { app: 'pgwarden', env: 'prod', cluster: 'orders', rule: 'connections_total', severity: 'critical', status: 'firing' },
        values: [
          ['1772366400000000000', EXPECTED_LINE, { event_id: event.id, node: 'pg-1', database: 'app', value: '120', threshold: '100' }],
        ],
      },
    ]);
  });

  it.each([
    ['a base URL', (fake: LokiFake) => fake.url],
    ['a base URL with a trailing slash', (fake: LokiFake) => `${fake.url}/`],
    ['the full push URL', (fake: LokiFake) => fake.pushUrl],
  ])('accepts %s', async (_, url) => {
    expect(await createLokiNotifier({ url: url(loki) }).send(sampleEvent())).toEqual({ kind: 'sent', status: 204 });
    expect(loki.received).toHaveLength(1);
  });

  it('sends basic auth from username/password or from credentials in the URL', async () => {
    const basic = await startLokiFake({ basicAuth: { username: '123456', password: 'basic-secret-pw' } });
    try {
      expect(await createLokiNotifier({ url: basic.url, username: '123456', password: 'basic-secret-pw' }).send(sampleEvent())).toEqual({
        kind: 'sent',
        status: 204,
      });
      const inUrl = basic.url.replace('http://', 'http://123456:basic-secret-pw@');
      expect(await createLokiNotifier({ url: inUrl }).send(sampleEvent())).toEqual({ kind: 'sent', status: 204 });
      expect(basic.received.map((push) => push.headers.authorization)).toEqual([
        `Basic ${Buffer.from('123456:basic-secret-pw').toString('base64')}`,
        `Basic ${Buffer.from('123456:basic-secret-pw').toString('base64')}`,
      ]);
    } finally {
      await basic.close();
    }
  });

  it('turns 429 with Retry-After into a retry no earlier than Loki asked', async () => {
    loki.respondWith({
      status: 429,
      body: 'Ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec)',
      headers: { 'Retry-After': '7' },
    });
    expect(await createLokiNotifier({ url: loki.url }).send(sampleEvent())).toEqual({
      kind: 'retry',
      status: 429,
      retryAfterMs: 7000,
      error: 'loki answered 429: Ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec) (retry after 7s)',
    });
  });

  it.each([500, 502, 503])('retries after a %i', async (status) => {
    loki.respondWith({ status, body: 'ingester unavailable' });
    expect(await createLokiNotifier({ url: loki.url }).send(sampleEvent())).toEqual({
      kind: 'retry',
      status,
      error: `loki answered ${status}: ingester unavailable`,
    });
  });

  it('gives up at once on a 400, quoting Loki', async () => {
    loki.respondWith({ status: 400, body: 'entry for stream has timestamp too old' });
    expect(await createLokiNotifier({ url: loki.url }).send(sampleEvent())).toEqual({
      kind: 'permanent',
      status: 400,
      error: 'loki answered 400: entry for stream has timestamp too old',
    });
  });

  describe('a Loki that refuses structured metadata (2.x, or allow_structured_metadata: false)', () => {
    let old: LokiFake;
    beforeEach(async () => {
      // A fresh server (a fresh port) per test: the fallback is remembered per push URL for the process.
      old = await startLokiFake({ structuredMetadata: false });
    });
    afterEach(() => old.close());

    const pushes = () => old.requests.map((request) => request.status);
    const valueLengths = () => old.received.flatMap((push) => push.streams.flatMap((stream) => stream.values.map((v) => v.length)));

    it('auto: sends again at once without metadata, remembers it, and warns once', async () => {
      const logger = createMemoryLogger();
      const first = createLokiNotifier({ url: old.url, logger });
      expect(await first.send(sampleEvent())).toEqual({ kind: 'sent', status: 204 });
      expect(pushes()).toEqual([400, 204]);
      expect(valueLengths()).toEqual([2]);
      expect(old.received[0]?.streams[0]?.values[0]?.[1]).toContain('event_id=7d1c2f4e-8a3b-4c5d-9e6f-0a1b2c3d4e5f');

      // Another notifier for the same server in this process (another sender) knows already: one request each.
      expect(await first.send(sampleEvent())).toEqual({ kind: 'sent', status: 204 });
      expect(await createLokiNotifier({ url: old.url, logger }).send(sampleEvent())).toEqual({ kind: 'sent', status: 204 });
      expect(pushes()).toEqual([400, 204, 204, 204]);
      expect(valueLengths()).toEqual([2, 2, 2]);
      expect(logger.records.filter((r) => r.level === 'warn' && /refuses structured metadata/.test(r.message))).toHaveLength(1);
    });

    it('on: the refusal is a permanent failure quoting Loki, as before', async () => {
      const outcome = await createLokiNotifier({ url: old.url, structuredMetadata: 'on' }).send(sampleEvent());
      expect(outcome).toMatchObject({ kind: 'permanent', status: 400 });
      expect('error' in outcome && outcome.error).toMatch(
        /^loki answered 400: stream '\{app="pgwarden", cluster="orders", .*includes structured metadata, but this feature is disallowed/,
      );
      expect(pushes()).toEqual([400]);
    });

    it('off: never sends metadata, so the first push is accepted', async () => {
      const notifier = createLokiNotifier({ url: old.url, structuredMetadata: 'off' });
      expect(await notifier.send(sampleEvent())).toEqual({ kind: 'sent', status: 204 });
      expect(await notifier.send(sampleEvent())).toEqual({ kind: 'sent', status: 204 });
      expect(pushes()).toEqual([204, 204]);
      expect(valueLengths()).toEqual([2, 2]);
    });
  });

  it('off sends no metadata to a Loki that would take it, and a bad mode is refused', async () => {
    expect(await createLokiNotifier({ url: loki.url, structuredMetadata: 'off' }).send(sampleEvent())).toEqual({
      kind: 'sent',
      status: 204,
    });
    expect(loki.received[0]?.streams[0]?.values[0]).toHaveLength(2);
    expect(() => createLokiNotifier({ url: loki.url, structuredMetadata: 'sometimes' as 'on' })).toThrow(NotifierConfigError);
  });

  it('gives up at once on a wrong token or a missing tenant (401)', async () => {
    const wrongToken = await createLokiNotifier({ url: authed.url, orgId: 'ops', bearerToken: 'revoked-token-0000' }).send(sampleEvent());
    expect(wrongToken).toEqual({ kind: 'permanent', status: 401, error: 'loki answered 401: Unauthorized' });
    const noTenant = await createLokiNotifier({ url: authed.url, bearerToken: token }).send(sampleEvent());
    expect(noTenant).toEqual({ kind: 'permanent', status: 401, error: 'loki answered 401: no org id' });
    expect(authed.received).toHaveLength(0);
  });

  it('gives up on a URL that is not a Loki push endpoint (404)', async () => {
    const outcome = await createLokiNotifier({ url: `${loki.url}/not-loki/loki/api/v1/push` }).send(sampleEvent());
    expect(outcome).toEqual({ kind: 'permanent', status: 404, error: 'loki answered 404: 404 page not found' });
  });

  it('retries when Loki does not answer within the timeout', async () => {
    loki.respondWith({ status: 204, delayMs: 10_000 });
    expect(await createLokiNotifier({ url: loki.url, timeoutMs: 200 }).send(sampleEvent())).toEqual({
      kind: 'retry',
      error: 'loki did not answer within 200ms',
    });
  });

  it('retries when the connection is refused', async () => {
    const port = await closedPort();
    expect(await createLokiNotifier({ url: `http://127.0.0.1:${port}` }).send(sampleEvent())).toEqual({
      kind: 'retry',
      error: `loki unreachable: connect ECONNREFUSED 127.0.0.1:${port}`,
    });
  });

  it('never lets the token or password into an outcome or a log line', async () => {
    const logger = createMemoryLogger();
    authed.respondWith({ status: 500, body: `auth backend rejected Bearer ${token}` }, { status: 204, delayMs: 10_000 });
    const outcomes = [
      await createLokiNotifier({ url: authed.url, orgId: 'ops', bearerToken: token, logger }).send(sampleEvent()),
      await createLokiNotifier({ url: authed.url, orgId: 'ops', bearerToken: token, logger, timeoutMs: 200 }).send(sampleEvent()),
    ];
    const basicPassword = 'basic-secret-pw-2';
    outcomes.push(
      await createLokiNotifier({
        url: loki.url,
        username: 'ops',
        password: basicPassword,
        logger,
        fetch: async (_input, init) => {
          throw new Error(`proxy refused ${JSON.stringify(init?.headers)}`);
        },
      }).send(sampleEvent()),
    );
    expect(outcomes[0]).toEqual({ kind: 'retry', status: 500, error: 'loki answered 500: auth backend rejected ***' });
    expect(outcomes[1]).toEqual({ kind: 'retry', error: 'loki did not answer within 200ms' });
    expect(outcomes[2]?.kind).toBe('retry');
    const texts = JSON.stringify([outcomes, logger.records]);
    expect(texts).not.toContain(token);
    expect(texts).not.toContain(basicPassword);
    expect(texts).not.toContain(Buffer.from(`ops:${basicPassword}`).toString('base64'));
  });

  it('refuses static labels Loki would reject or that would hide the event labels', () => {
    expect(() => createLokiNotifier({ url: loki.url, labels: { 'team-name': 'dba' } })).toThrow(NotifierConfigError);
    expect(() => createLokiNotifier({ url: loki.url, labels: { severity: 'low' } })).toThrow(
      'labels.severity: is set from each event and cannot be a static label',
    );
    expect(() => createLokiNotifier({ url: loki.url, bearerToken: token, username: 'u', password: 'p' })).toThrow(
      'bearerToken: give either bearerToken or username/password, not both',
    );
  });
});

describe('the loopback Loki itself', () => {
  let loki: LokiFake;
  beforeAll(async () => {
    loki = await startLokiFake();
  });
  afterAll(() => loki.close());

  const post = (body: string, contentType = 'application/json') =>
    fetch(loki.pushUrl, { method: 'POST', headers: { 'Content-Type': contentType }, body }).then(async (response) => ({
      status: response.status,
      text: (await response.text()).trim(),
    }));

  it('rejects what Loki rejects: numeric timestamps, missing streams, bad JSON, unlabelled streams', async () => {
    expect(await post(JSON.stringify({ streams: [{ stream: { app: 'x' }, values: [[1772366400000000000, 'line']] }] }))).toEqual({
      status: 400,
      text: 'streams[0].values[0]: timestamp must be a string of unix nanoseconds, got number',
    });
    expect(await post(JSON.stringify({}))).toEqual({ status: 400, text: 'push request has no streams' });
    expect((await post('{"streams": [')).status).toBe(400);
    expect(await post(JSON.stringify({ streams: [{ stream: {}, values: [] }] }))).toEqual({
      status: 400,
      text: 'error at least one label pair is required per stream',
    });
    expect(loki.received).toHaveLength(0);
    expect(await post(JSON.stringify({ streams: [{ stream: { app: 'x' }, values: [['1', 'line', { k: 'v' }]] }] }))).toEqual({
      status: 204,
      text: '',
    });
    expect(loki.received).toHaveLength(1);
  });
});
