import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  loadConfig,
  loadLinkedConfig,
  parseBytes,
  parseDuration,
  parseNodeArg,
  watchdogSettingsFor,
} from '../../shared/config/index.ts';
import { redact } from '../../shared/redact/index.ts';

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function yamlFile(text: string): string {
  const folder = mkdtempSync(path.join(tmpdir(), 'pgwarden-config-'));
  folders.push(folder);
  const file = path.join(folder, 'pgwarden.yaml');
  writeFileSync(file, text);
  return file;
}

function problems(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('layers defaults < file < env < flags', () => {
    const file = yamlFile(
      'watchdog:\n  thresholds: { total: 10, idle: 4 }\n  levels: [70, 80, 90]\nclusters:\n  - name: orders\n    nodes: [{ name: o-0, url: "postgres://u:p@db:5432/app" }]\n',
    );
    const config = loadConfig({
      file,
      env: { PGWARDEN_THRESHOLD_TOTAL: '20', PGWARDEN_THRESHOLD_ACTIVE: '3' },
      overrides: { watchdog: { thresholds: { total: 30 } } },
    });
    expect(config.watchdog.thresholds).toEqual({ total: 30, active: 3, idle: 4, idleInTransaction: 0, stale: 0 });
    expect(config.watchdog.levels).toEqual([70, 80, 90]);
    expect(config.watchdog.repeatInterval).toBe(4 * 3_600_000);
    expect(config.clusters[0]?.nodes[0]?.name).toBe('o-0');
  });

  it('lists every problem at once, each with its path', () => {
    const file = yamlFile(
      [
        'clusters:',
        '  - name: a',
        '    nodes: [{ name: n, url: "postgres://u:p@h/d" }]',
        '  - name: b',
        '    nodes:',
        '      - { name: n, url: "mysql://x", port: 1 }',
        'watchdog:',
        '  thresholds: { total: -1, idle: "many", stale: 5 }',
        '  surprise: true',
        'slack: { webhookUrl: "http://hooks.slack.com/services/T/B/X" }',
      ].join('\n'),
    );
    expect(problems(() => loadConfig({ file, env: {} }))).toEqual([
      'clusters[1].nodes[0].url: must be a postgres:// URL, got mysql://',
      'clusters[1].nodes[0]: unknown key "port"',
      'watchdog.thresholds.total: must be 0 (off) or a positive whole number',
      'watchdog.thresholds.idle: Invalid input: expected number, received NaN',
      'watchdog: unknown key "surprise"',
      'slack.webhookUrl: must use https (http is allowed only for loopback hosts), got http://hooks.slack.com',
    ]);
  });

  it('reports a duplicate cluster name together with the other problems of the config', () => {
    const node = { name: 'n', url: 'postgres://u:p@h/d' };
    expect(
      problems(() =>
        loadConfig({
          env: {},
          overrides: {
            clusters: [
              { name: 'orders', nodes: [node] },
              { name: 'orders', nodes: [node, node] },
            ],
            // A value of the wrong type stops zod before the object's refinements: the case that hid duplicates.
            proxy: { apiPort: 'x' },
          },
        }),
      ),
    ).toEqual([
      'proxy.apiPort: Invalid input: expected number, received NaN',
      'clusters[1].name: duplicate cluster name "orders"',
      'clusters[1].nodes[1].name: duplicate node name "n"',
    ]);
  });

  it('refuses channels that no configured sender or queue can deliver, listed with every other problem', () => {
    const refused =
      'names loki, but no sender is configured for channel loki: set loki.url, or queue.urls.loki (or queue.url) for a sender elsewhere';
    expect(
      problems(() =>
        loadConfig({ env: { PGWARDEN_CHANNELS: 'slack,loki', PGWARDEN_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/X' } }),
      ),
    ).toEqual([`channels[1]: ${refused}`]);
    expect(
      problems(() =>
        loadConfig({
          env: { PGWARDEN_CHANNELS: 'loki', PGWARDEN_PROXY_API_PORT: 'x' },
          overrides: {
            clusters: [
              { name: 'a', nodes: [{ name: 'n', url: 'postgres://h/d' }] },
              { name: 'a', nodes: [{ name: 'n', url: 'postgres://h/d' }] },
            ],
          },
        }),
      ),
    ).toEqual([
      'proxy.apiPort: Invalid input: expected number, received NaN',
      'clusters[1].name: duplicate cluster name "a"',
      `channels[0]: ${refused}`,
    ]);
    // A queue that carries the channel to its sender elsewhere (the deployed watchdog) is a destination.
    expect(
      loadConfig({ env: { PGWARDEN_CHANNELS: 'loki', PGWARDEN_QUEUE_URL_LOKI: 'https://sqs.eu-west-1.amazonaws.com/1/loki' } }).channels,
    ).toEqual(['loki']);
  });

  it('reads loki.structuredMetadata (default auto) and refuses other values', () => {
    expect(loadConfig({ env: { PGWARDEN_LOKI_URL: 'https://loki.example' } }).loki?.structuredMetadata).toBe('auto');
    expect(
      loadConfig({ env: { PGWARDEN_LOKI_URL: 'https://loki.example', PGWARDEN_LOKI_STRUCTURED_METADATA: 'off' } }).loki?.structuredMetadata,
    ).toBe('off');
    expect(
      problems(() => loadConfig({ env: { PGWARDEN_LOKI_URL: 'https://loki.example', PGWARDEN_LOKI_STRUCTURED_METADATA: 'maybe' } })),
    ).toEqual(['loki.structuredMetadata: must be auto, on or off']);
  });

  it('requires staleAge where a stale threshold is set, on the cluster that sets it', () => {
    expect(
      problems(() =>
        loadConfig({
          env: {},
          overrides: { clusters: [{ name: 'a', nodes: [{ name: 'n', url: 'postgres://h/d' }], watchdog: { thresholds: { stale: 2 } } }] },
        }),
      ),
    ).toEqual([
      'clusters[0].watchdog.staleAge: required when a stale threshold is set (how old a connection must be to count as stale, like 10m)',
    ]);
  });

  it('says when the file cannot be read or is not YAML', () => {
    expect(problems(() => loadConfig({ file: '/nonexistent/pgwarden.yaml', env: {} }))).toEqual([
      '(file): cannot read /nonexistent/pgwarden.yaml: ENOENT',
    ]);
    expect(problems(() => loadConfig({ file: yamlFile('clusters: [unclosed'), env: {} }))[0]).toMatch(/^\(file\): not valid YAML/);
  });

  it('reads a config document given as text, and a fleet from a linked secret', () => {
    const text = JSON.stringify({ clusters: [{ name: 'demo', nodes: [{ name: 'pg-0', url: 'postgres://u:pw@127.0.0.1:5/postgres' }] }] });
    expect(loadConfig({ env: {}, text, source: 'secret' }).clusters.map((c) => c.name)).toEqual(['demo']);
    const linked: Record<string, string> = {
      ClusterUrls: text,
      StateUrl: 'postgres://s:state-pw@ctl/pgwarden',
      SlackWebhookUrl: 'https://hooks.slack.com/services/T0/B0/secretpath',
    };
    const config = loadLinkedConfig((name) => linked[name], {
      PGWARDEN_CHANNELS: 'slack,loki',
      PGWARDEN_QUEUE_URL_SLACK: 'https://sqs.eu-west-1.amazonaws.com/1/slack',
      PGWARDEN_QUEUE_URL_LOKI: 'https://sqs.eu-west-1.amazonaws.com/1/loki',
    });
    expect(config.clusters[0]?.nodes[0]?.name).toBe('pg-0');
    expect(config.stateUrl).toBe('postgres://s:state-pw@ctl/pgwarden');
    expect(config.channels).toEqual(['slack', 'loki']);
    expect(config.queue.urls?.slack).toBe('https://sqs.eu-west-1.amazonaws.com/1/slack');
    const urls = loadLinkedConfig((name) => (name === 'ClusterUrls' ? 'a=postgres://h1/db,b=postgres://h2/db' : undefined), {});
    expect(urls.clusters[0]?.nodes.map((n) => n.name)).toEqual(['a', 'b']);
  });

  it('registers every secret it reads, so no log line can print them', () => {
    loadConfig({
      env: {
        PGWARDEN_STATE_URL: 'postgres://ctl:Very-Secret-1@ctl/db',
        PGWARDEN_LOKI_URL: 'https://loki.example',
        PGWARDEN_LOKI_BEARER_TOKEN: 'tok-abcdef-123',
      },
    });
    expect(redact('failed with tok-abcdef-123 and Very-Secret-1')).toBe('failed with *** and ***');
  });

  it('resolves per-cluster watchdog overrides on top of the global settings', () => {
    const config = loadConfig({
      env: {},
      overrides: {
        watchdog: { thresholds: { total: 50, idle: 10 } },
        clusters: [{ name: 'a', nodes: [{ name: 'n', url: 'postgres://h/d' }], watchdog: { thresholds: { total: 80 }, for: '2m' } }],
      },
    });
    const settings = watchdogSettingsFor(config, config.clusters[0]!);
    expect(settings.thresholds).toMatchObject({ total: 80, idle: 10 });
    expect(settings.for).toBe(120_000);
  });
});

describe('proxy workers', () => {
  it('takes a thread count or auto, and names the choices otherwise', () => {
    expect(loadConfig({ env: {} }).proxy.workers).toBe(1);
    expect(loadConfig({ env: { PGWARDEN_PROXY_WORKERS: '2' } }).proxy.workers).toBe(2);
    expect(loadConfig({ env: { PGWARDEN_PROXY_WORKERS: 'auto' } }).proxy.workers).toBe('auto');
    for (const value of ['0', 'many', '1.5']) {
      expect(problems(() => loadConfig({ env: { PGWARDEN_PROXY_WORKERS: value } }))).toEqual([
        'proxy.workers: must be a whole number from 1 to 64, or auto',
      ]);
    }
  });
});

describe('proxy data path', () => {
  it('takes auto, native or javascript, auto by default, and names the choices otherwise', () => {
    expect(loadConfig({ env: {} }).proxy.dataPath).toBe('auto');
    expect(loadConfig({ env: { PGWARDEN_PROXY_DATA_PATH: 'javascript' } }).proxy.dataPath).toBe('javascript');
    expect(problems(() => loadConfig({ env: { PGWARDEN_PROXY_DATA_PATH: 'c' } }))).toEqual([
      'proxy.dataPath: must be auto, native or javascript',
    ]);
  });
});

describe('units and node arguments', () => {
  it('parses durations and sizes the way the CLI writes them', () => {
    expect([parseDuration('500ms'), parseDuration('30s'), parseDuration('10m'), parseDuration('1h')]).toEqual([
      500, 30_000, 600_000, 3_600_000,
    ]);
    expect(parseBytes('16MB')).toBe(16 * 1024 * 1024);
    expect(() => parseDuration('soon')).toThrow('invalid duration "soon"');
  });

  it('takes name=URL or a bare URL named after its host and port', () => {
    expect(parseNodeArg('orders-0=postgres://u:p@db:5433/app')).toEqual({ name: 'orders-0', url: 'postgres://u:p@db:5433/app' });
    expect(parseNodeArg('postgres://u:p@db.internal/app')).toEqual({ name: 'db.internal-5432', url: 'postgres://u:p@db.internal/app' });
  });
});

describe('per-cluster topology overrides', () => {
  it('change only the keys they name', async () => {
    const { topologySettingsFor } = await import('../../shared/config/index.ts');
    const config = loadConfig({
      env: {},
      overrides: {
        topology: { namespace: 'db', maxLag: '1MB' },
        clusters: [{ name: 'a', nodes: [{ name: 'n', url: 'postgres://h/d' }], topology: { rwService: 'a-rw' } }],
      },
    });
    expect(topologySettingsFor(config, config.clusters[0]!)).toMatchObject({
      namespace: 'db',
      maxLag: 1024 * 1024,
      rwService: 'a-rw',
      roService: 'postgres-ro',
    });
  });
});
