import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, migrate } from '../../shared/db/index.ts';
import { MIGRATIONS, NO_CHANNEL_WARNING } from '../../shared/delivery/index.ts';
import { blackhole, closedPort, startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { openSessions } from './sessions.ts';

const root = path.resolve(import.meta.dirname, '../..');
const node = path.join(root, 'node_modules/.bin/node');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a child CLI: no PGWARDEN_* variables from the outer environment, plus `extra`. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('PGWARDEN_'))), ...extra };
}

/** The real CLI as a child process. */
function pgwarden(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      node,
      [path.join(root, 'bin/pgwarden.ts'), ...args],
      { cwd: root, env: childEnv(extraEnv), timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr });
      },
    );
  });
}

/** The CLI with `--interval`: stopped with SIGTERM once stdout shows `rounds` rounds of `lines` node lines each. */
function pgwardenRounds(args: string[], rounds: number, lines = 1): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(node, [path.join(root, 'bin/pgwarden.ts'), ...args], { cwd: root, env: childEnv({}) });
    let stdout = '';
    let stderr = '';
    // Bounded: a CLI that never prints its rounds is stopped, and the assertions on its output fail.
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (stdout.split('\n').filter((line) => line.startsWith('cluster=')).length >= rounds * lines) child.kill('SIGTERM');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('pgwarden watchdog (the command line)', () => {
  let cluster: TestCluster;
  let dir: string;
  const sessions = openSessions();
  // The watched node is the replica; the control database (--state-url) is the primary, whose own
  // sessions must not show in the counts.
  const watched = () => `orders-0=${cluster.url('pg-1')}`;

  beforeAll(async () => {
    cluster = await startTestCluster({ replicas: 1 });
    dir = await mkdtemp(path.join(tmpdir(), 'pgwarden-watchdog-cli-'));
    const db = createCluster({ primary: cluster.url('pg-0'), healthCheck: { intervalMs: 0 } });
    await migrate(db, MIGRATIONS, 'up');
    await db.close();
  });
  afterEach(() => sessions.closeAll());
  afterAll(async () => {
    await cluster?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints one line per node and one "[dry-run] would send" line per alert, exit 0', async () => {
    await sessions.idle(cluster.url('pg-1'), 2);
    const run = await pgwarden(['watchdog', '--url', watched(), '--cluster', 'orders', '--dry-run', '--threshold-total', '2']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      'cluster=orders node=orders-0 total=2 active=0 idle=2 idle_in_tx=0 stale=0 max=100 usable=97 (2%)\n' +
        '[dry-run] would send: warning connections_total firing: orders/orders-0: 2 connections (threshold 2)\n',
    );
  });

  it('prints exactly the documented JSON on stdout and exits 1 when a node could not be checked', async () => {
    const port = await closedPort();
    const run = await pgwarden([
      'watchdog',
      '--json',
      '--dry-run',
      '--url',
      watched(),
      '--url',
      `orders-1=postgres://postgres:pw-of-closed@127.0.0.1:${port}/postgres`,
      '--cluster',
      'orders',
    ]);
    expect(run.code).toBe(1);
    const document = JSON.parse(run.stdout);
    expect(Object.keys(document)).toEqual(['checks', 'problems']);
    expect(document.problems).toEqual([]);
    const [ok, failed] = document.checks;
    expect(Object.keys(ok)).toEqual(['cluster', 'node', 'stats', 'error', 'events']);
    expect(ok).toEqual({
      cluster: 'orders',
      node: 'orders-0',
      stats: {
        total: 0,
        active: 0,
        idle: 0,
        idleInTransaction: 0,
        idleInTransactionAborted: 0,
        stale: 0,
        longestTransactionSeconds: 0,
        maxConnections: 100,
        reservedConnections: 3,
        usableConnections: 97,
      },
      error: null,
      events: [],
    });
    expect(failed).toMatchObject({ cluster: 'orders', node: 'orders-1', stats: null, error: `connect ECONNREFUSED 127.0.0.1:${port}` });
    expect(failed.events).toHaveLength(1);
    expect(Object.keys(failed.events[0])).toEqual(['rule', 'severity', 'status', 'cluster', 'node', 'value', 'threshold', 'summary']);
    expect(failed.events[0]).toMatchObject({
      rule: 'connect_failure',
      severity: 'critical',
      status: 'firing',
      cluster: 'orders',
      node: 'orders-1',
    });
    // Logs went to stderr, not into the JSON document.
    expect(run.stderr).toContain('[dry-run] would send: critical connect_failure firing');
  });

  it('sends through the lifecycle with --state-url: a breach is sent once, not on every run', async () => {
    await sessions.idle(cluster.url('pg-1'), 1);
    const args = [
      'watchdog',
      '--json',
      '--url',
      watched(),
      '--cluster',
      'lifecycle',
      '--state-url',
      cluster.url('pg-0'),
      '--threshold-total',
      '1',
    ];
    const events = async (extra: string[] = []) => {
      const run = await pgwarden([...args, ...extra]);
      expect(run.code).toBe(0);
      return JSON.parse(run.stdout).checks[0].events.map((e: { rule: string; status: string }) => `${e.rule} ${e.status}`);
    };
    expect(await events()).toEqual(['connections_total firing']);
    expect(await events()).toEqual([]);
    expect(await events(['--force-notification'])).toEqual(['test firing']);
    await sessions.closeAll();
    expect(await events()).toEqual(['connections_total resolved']);
  });

  it('never prints a node password or the Slack webhook, on stdout or stderr', async () => {
    const hole = await blackhole();
    const fast = path.join(dir, 'fast.yaml');
    await writeFile(fast, 'watchdog:\n  connectTimeout: 300ms\n');
    try {
      const webhook = 'http://127.0.0.1:9/services/T0000SECRET/B0000SECRET/hookpathSECRETvalue';
      const runs = await Promise.all([
        pgwarden([
          'watchdog',
          '--config',
          fast,
          '--url',
          watched(),
          '--url',
          `hole=${hole.url('postgres', 'hole-password-SECRET')}`,
          '--slack-webhook',
          webhook,
          '--force-notification',
          '--threshold-total',
          '0',
          '--log-level',
          'debug',
        ]),
        pgwarden([
          'watchdog',
          '--json',
          '--config',
          fast,
          '--url',
          `hole=${hole.url('postgres', 'hole-password-SECRET')}`,
          '--slack-webhook',
          webhook,
        ]),
      ]);
      for (const run of runs) {
        expect(run.code).toBe(1);
        const output = run.stdout + run.stderr;
        expect(output).toContain('hole');
        expect(output).not.toContain('SECRET');
        expect(output).not.toContain(cluster.password);
      }
    } finally {
      await hole.close();
    }
  });

  it('lists every problem of a bad config file and exits 2', async () => {
    const file = path.join(dir, 'bad.yaml');
    await writeFile(
      file,
      [
        'clusters:',
        '  - name: orders',
        '    colour: blue',
        '    nodes:',
        '      - name: orders-0',
        '        url: 42',
        'watchdog:',
        '  thresholds:',
        '    total: -5',
        '    active: many',
        '  levels: 90,80',
        '',
      ].join('\n'),
    );
    const run = await pgwarden(['watchdog', '--config', file]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    for (const expected of [
      'clusters[0]: unknown key "colour"',
      'clusters[0].nodes[0].url:',
      'watchdog.thresholds.total: must be 0 (off) or a positive whole number',
      'watchdog.thresholds.active:',
      'watchdog.levels: levels must increase',
    ]) {
      expect(run.stderr).toContain(expected);
    }
  });

  it('requires staleAge where a stale threshold is set (file or flags) and exits 2', async () => {
    const file = path.join(dir, 'stale.yaml');
    await writeFile(
      file,
      [
        'clusters:',
        '  - name: orders',
        '    nodes:',
        `      - { name: orders-0, url: "${cluster.url('pg-1')}" }`,
        '    watchdog:',
        '      thresholds: { stale: 3 }',
        '',
      ].join('\n'),
    );
    const fromFile = await pgwarden(['watchdog', '--config', file]);
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toContain('clusters[0].watchdog.staleAge: required when a stale threshold is set');
    const fromFlags = await pgwarden(['watchdog', '--url', watched(), '--threshold-stale', '3', '--threshold-idle', '-2', '--for', 'soon']);
    expect(fromFlags.code).toBe(2);
    expect(fromFlags.stderr).toContain('watchdog.thresholds.idle: must be 0 (off) or a positive whole number');
    expect(fromFlags.stderr).toContain('watchdog.for: invalid duration "soon"');
  });

  it('rejects bad usage with exit 2: --once with --interval, and no nodes at all', async () => {
    const both = await pgwarden(['watchdog', '--once', '--interval', '30s', '--url', watched()]);
    expect(both).toMatchObject({ code: 2, stdout: '' });
    expect(both.stderr).toContain('--once and --interval exclude each other');
    const none = await pgwarden(['watchdog']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no nodes to check');
  });

  it('lists a publish failure under problems in --json and exits 1', async () => {
    await sessions.idle(cluster.url('pg-1'), 1);
    const port = await closedPort();
    const file = path.join(dir, 'queue.yaml');
    await writeFile(
      file,
      [
        'queue:',
        `  url: http://127.0.0.1:${port}/000000000000/alerts`,
        `  endpoint: http://127.0.0.1:${port}`,
        '  region: us-east-1',
        '',
      ].join('\n'),
    );
    const run = await pgwarden(
      [
        'watchdog',
        '--json',
        '--config',
        file,
        '--url',
        watched(),
        '--cluster',
        'queued',
        '--state-url',
        cluster.url('pg-0'),
        '--slack-webhook',
        'http://127.0.0.1:9/services/T0/B0/unused',
        '--threshold-total',
        '1',
      ],
      { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_MAX_ATTEMPTS: '1' },
    );
    expect(run.code).toBe(1);
    const document = JSON.parse(run.stdout);
    // The node was checked fine: the exit code is the publish failure's.
    expect(document.checks.map((c: { error: string | null }) => c.error)).toEqual([null]);
    expect(document.problems).toHaveLength(1);
    expect(document.problems[0]).toMatch(
      /^publishing the alerts of cluster queued failed: 1 of 1 deliveries were not queued; they are recorded as failed and the sweeper will publish them again: /,
    );
  });

  it('keeps the lifecycle in memory with --interval and no control database: one alert across rounds, and a warning once', async () => {
    await sessions.idle(cluster.url('pg-1'), 1);
    const run = await pgwardenRounds(
      ['watchdog', '--interval', '100ms', '--url', watched(), '--cluster', 'memory', '--threshold-total', '1'],
      4,
    );
    expect(run.stdout.split('\n').filter((line) => line.startsWith('cluster=memory')).length).toBeGreaterThanOrEqual(4);
    // Four rounds, one firing alert, repeatInterval 4h: printed once, not once a round.
    expect(run.stderr.split('rule connections_total').length - 1).toBe(1);
    expect(run.stderr.split(NO_CHANNEL_WARNING).length - 1).toBe(1);
  });

  it('warns once at start when no alert channel is configured, in watchdog and topology', async () => {
    const watchdogRun = await pgwarden(['watchdog', '--url', watched(), '--cluster', 'quiet', '--state-url', cluster.url('pg-0')]);
    const topologyRun = await pgwarden(['topology', '--url', watched(), '--cluster', 'quiet', '--state-url', cluster.url('pg-0')], {
      KUBECONFIG: path.join(dir, 'no-such-kubeconfig'),
      HOME: dir,
    });
    for (const run of [watchdogRun, topologyRun]) {
      expect(run.stderr.split(NO_CHANNEL_WARNING).length - 1).toBe(1);
      expect(run.stderr).toMatch(/level=warn/);
    }
    const configured = await pgwarden(['watchdog', '--url', watched(), '--slack-webhook', 'http://127.0.0.1:9/services/T0/B0/unused']);
    expect(configured.stderr).not.toContain('no alert channel configured');
  });
});
