/**
 * The whole system as a newcomer runs it: `pgwarden dev --scenario failover` as a child process, with a loopback
 * Slack fake as the configured webhook. What a user would see is asserted: the topology alert arrives in Slack,
 * the proxy's read-write port leads to the new primary, a Slack outage leaves deliveries failed and then sent
 * once Slack is back (the sweeper's first retry is due a minute after the failure), and Ctrl-C leaves nothing.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type SlackFake, startSlackFake } from '../harness/fakes/slack.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface DevState {
  pid: number;
  stateUrl: string;
  clusters: Array<{ name: string; nodes: Array<{ name: string; url: string }> }>;
  proxy: { rw: number; ro: number; api: number; apiToken?: string } | null;
}

function postgresProcessesUnder(dir: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes('postgres') && line.includes(dir));
}

async function statusCounts(stateUrl: string): Promise<Record<string, number>> {
  const client = new pg.Client(stateUrl);
  await client.connect();
  try {
    const { rows } = await client.query<{ status: string; n: number }>(
      'select status, count(*)::int as n from pgwarden.deliveries group by status',
    );
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  } finally {
    await client.end();
  }
}

describe('pgwarden dev (end to end)', () => {
  let slack: SlackFake;
  let dataDir: string;
  let child: ChildProcess;
  let stdout = '';
  let stderr = '';
  let state: DevState;
  let exited: Promise<number | null>;

  beforeAll(async () => {
    slack = await startSlackFake();
    // A Slack outage from the first message on: the first deliveries fail and must be retried.
    slack.respondWith(...Array.from({ length: 6 }, () => ({ status: 503, body: 'service_unavailable' })));
    dataDir = mkdtempSync(path.join(tmpdir(), 'pgwarden-e2e-'));
    chmodSync(dataDir, 0o755); // mkdtemp makes it private; as root the server runs as `postgres`, which must enter it
    child = spawn(
      path.join(ROOT, 'node_modules/.bin/node'),
      [path.join(ROOT, 'bin/pgwarden.ts'), 'dev', '--data-dir', dataDir, '--scenario', 'failover', '--slack-webhook', slack.url],
      { cwd: ROOT, env: { ...process.env, PGWARDEN_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    await vi.waitFor(
      () => {
        if (!existsSync(path.join(dataDir, 'dev.json'))) throw new Error(`pgwarden dev did not start:\n${stdout}\n${stderr}`);
      },
      { timeout: 60_000, interval: 200 },
    );
    state = JSON.parse(readFileSync(path.join(dataDir, 'dev.json'), 'utf8')) as DevState;
  }, 90_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      // A failed test still gets a clean stop (SIGKILL would orphan the clusters); SIGKILL only if it hangs.
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    await slack?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('detects the failover, tells Slack, and the proxy leads to the new primary', async () => {
    await expect.poll(() => stdout, { timeout: 90_000, interval: 250 }).toContain('failover: done');
    expect(stdout).toMatch(/topology\s+cluster=demo verdict=ok primary=pg-1/);

    // The topology change reaches Slack once the outage is over (it may be among the first, failed, sends).
    await expect
      .poll(() => slack.requests.some((r) => r.status === 200 && r.raw.includes('topology_changed')), { timeout: 150_000, interval: 500 })
      .toBe(true);

    const demo = state.clusters[0]!;
    const { username, password } = new URL(demo.nodes[0]!.url);
    const proxied = new pg.Client({
      host: '127.0.0.1',
      port: state.proxy!.rw,
      user: username,
      password: decodeURIComponent(password),
      database: 'postgres',
    });
    await proxied.connect();
    const { rows } = await proxied.query<{ recovery: boolean; port: number }>(
      'select pg_is_in_recovery() as recovery, inet_server_port() as port',
    );
    await proxied.end();
    expect(rows[0]!.recovery).toBe(false);
    expect(rows[0]!.port).toBe(Number(new URL(demo.nodes[1]!.url).port));
  }, 200_000);

  it('keeps deliveries that failed during the Slack outage and sends them after recovery', async () => {
    // The outage answered 503 to the first sends: those rows were recorded as failed with a retry…
    expect(slack.requests.filter((r) => r.status === 503).length).toBeGreaterThan(0);
    // …and the sweeper delivered every one of them once Slack answered again.
    await expect
      .poll(async () => statusCounts(state.stateUrl), { timeout: 200_000, interval: 1000 })
      .toSatisfy((counts: Record<string, number>) => (counts.sent ?? 0) > 0 && !counts.failed && !counts.pending && !counts.dead);
    expect(stdout).toMatch(/delivery\s+pending=0 sent=\d+ failed=[1-9]/);
  }, 220_000);

  it("drains a node through the proxy API with the run's own token, kept in dev.json and never printed", async () => {
    const { api, apiToken } = state.proxy!;
    expect(apiToken).toMatch(/^[\w-]{32}$/);
    const drain = (authorization?: string) =>
      fetch(`http://127.0.0.1:${api}/nodes/pg-2/drain`, { method: 'POST', headers: authorization ? { authorization } : {} });
    expect((await drain()).status).toBe(401);
    expect(await (await drain(`Bearer ${apiToken}`)).json()).toEqual({ node: 'pg-2', drained: true });
    const undrain = await fetch(`http://127.0.0.1:${api}/nodes/pg-2/undrain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiToken}` },
    });
    expect(undrain.status).toBe(200);
    expect(stdout).toContain('drain/undrain token: proxy.apiToken in');
    expect(stdout + stderr).not.toContain(apiToken);
  });

  it('stops everything on Ctrl-C: no child process, port or lock left', async () => {
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stdout).toContain('stopped: no process, port or lock left behind');
    expect(postgresProcessesUnder(dataDir)).toEqual([]);
    expect(existsSync(path.join(dataDir, 'dev.lock'))).toBe(false);
    const probe = new pg.Client({ host: '127.0.0.1', port: state.proxy!.rw, user: 'x', password: 'x', connectionTimeoutMillis: 1000 });
    await expect(probe.connect()).rejects.toThrow();
    // The webhook's secret path never reached the console.
    expect(stdout + stderr).not.toContain(new URL(slack.url).pathname);
    // The handlers' CloudWatch metrics (EMF JSON lines) stay out of the local console.
    expect(stdout).not.toContain('"CloudWatchMetrics"');
  }, 60_000);
});
