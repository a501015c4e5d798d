/**
 * What Lambda runs: every function bundle that `npm run build` makes is imported in a fresh Node process (as a
 * cold start does, with its configuration in SST_RESOURCE_* variables the way linked secrets arrive) and its
 * handler answers a sample event of its AWS type, against the real harness cluster. The proxy's bundle runs as
 * its container does.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundles } from '../../infra/build.ts';
import { freePort } from '../../shared/embedded/index.ts';
import { scheduledEvent, sqsEvent } from '../functions/lambda-events.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { type SlackFake, startSlackFake } from '../harness/fakes/slack.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');

describe('function bundles', () => {
  let outdir: string;
  let cluster: TestCluster;
  let slack: SlackFake;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    outdir = mkdtempSync(path.join(tmpdir(), 'pgwarden-dist-'));
    [cluster, slack] = await Promise.all([startTestCluster({ replicas: 1 }), startSlackFake()]);
    await buildBundles({ outdir });
    const secret = (value: string) => JSON.stringify({ type: 'sst.sst.Secret', value });
    env = {
      PATH: process.env.PATH,
      AWS_REGION: 'eu-west-1',
      AWS_LAMBDA_FUNCTION_NAME: 'pgwarden-test',
      SST_RESOURCE_App: JSON.stringify({ name: 'pgwarden', stage: 'test' }),
      SST_RESOURCE_StateUrl: secret(cluster.url(cluster.primary())),
      SST_RESOURCE_ClusterUrls: secret(cluster.nodes.map((n) => `${n.name}=${cluster.url(n)}`).join(',')),
      SST_RESOURCE_SlackWebhookUrl: secret(slack.url),
      PGWARDEN_LOG_LEVEL: 'warn',
    };
  }, 180_000);

  afterAll(async () => {
    await Promise.all([cluster?.close(), slack?.close()]);
    if (outdir) rmSync(outdir, { recursive: true, force: true });
  });

  /** What the last invoked bundle wrote on stdout (its logs and its EMF metrics). */
  let lastStdout = '';

  /** Imports one bundle in a new process, calls its handler once, returns what it answered. */
  async function invokeBundle(name: string, event: unknown): Promise<unknown> {
    const script = `
      const { handler } = await import(${JSON.stringify(path.join(outdir, name, 'index.mjs'))});
      const out = await handler(JSON.parse(process.env.EVENT), { functionName: ${JSON.stringify(name)}, awsRequestId: 'req-1', getRemainingTimeInMillis: () => 30000 });
      process.stdout.write('RESULT ' + JSON.stringify(out ?? null) + '\\n');
      process.exit(0);`;
    const { stdout } = await run(NODE, ['--input-type=module', '-e', script], {
      env: { ...env, EVENT: JSON.stringify(event) },
      timeout: 60_000,
    });
    lastStdout = stdout;
    const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line) throw new Error(`no result from ${name}:\n${stdout}`);
    return JSON.parse(line.slice('RESULT '.length));
  }

  it('watchdog answers a scheduled event with the stats of every node', async () => {
    const out = (await invokeBundle('watchdog', scheduledEvent)) as {
      checks: Array<{ node: string; stats: { maxConnections: number } | null }>;
    };
    expect(out.checks.map((c) => c.node)).toEqual(['pg-0', 'pg-1']);
    expect(out.checks.every((c) => c.stats?.maxConnections === 100)).toBe(true);
    // The bundled Powertools Metrics writes its EMF document where Lambda's log agent reads it.
    const emf = lastStdout
      .split('\n')
      .filter((l) => l.includes('"CloudWatchMetrics"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(emf).toContainEqual(expect.objectContaining({ service: 'pgwarden-watchdog', stage: 'test', ChecksRun: 2 }));
  });

  it('topology answers a scheduled event with the verified primary', async () => {
    const out = (await invokeBundle('topology', scheduledEvent)) as {
      clusters: Array<{ verdict: string; primary: { node: string } | null }>;
    };
    expect(out.clusters[0]).toMatchObject({ verdict: 'ok', primary: { node: 'pg-0' } });
  });

  it('sweep answers a scheduled event with what it swept (migrations applied at cold start)', async () => {
    expect(await invokeBundle('sweep', scheduledEvent)).toMatchObject({ due: 0, published: 0 });
  });

  it('requeue answers a manual payload and refuses an empty one', async () => {
    expect(await invokeBundle('requeue', { allDead: true })).toMatchObject({ requeued: [], notRequeued: [] });
    await expect(invokeBundle('requeue', {})).rejects.toThrow(/requeue needs/);
  });

  it('send-slack and send-loki answer SQS events with partial batch failures for unprocessable records', async () => {
    const bad = sqsEvent(['not json', JSON.stringify({ v: 1, deliveryId: 'nope' })]);
    expect(await invokeBundle('send-slack', bad)).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-0' }, { itemIdentifier: 'm-1' }] });
    expect(await invokeBundle('send-loki', sqsEvent(['{}']))).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-0' }] });
  });

  // Native: the addon npm run build copied beside the bundle. JavaScript: worker threads that load the bundle itself.
  it.each([
    ['native', 'the addon beside the bundle', 'native'],
    ['javascript', 'its worker threads load the same bundle', 'handles'],
  ])('ha-proxy runs with two %s data-plane threads (%s), routes, and drains on SIGTERM', async (dataPath, _how, logged) => {
    const rwPort = await freePort();
    const child = spawn(NODE, [path.join(outdir, 'ha-proxy', 'index.mjs')], {
      env: {
        ...env,
        PGWARDEN_LOG_LEVEL: 'info',
        PGWARDEN_PROXY_WORKERS: '2',
        PGWARDEN_PROXY_DATA_PATH: dataPath,
        PGWARDEN_PROXY_RW_PORT: String(rwPort),
        PGWARDEN_PROXY_RO_PORT: String(await freePort()),
        PGWARDEN_PROXY_API_PORT: String(await freePort()),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 200 && !output.includes('proxy running'); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(output).toMatch(new RegExp(`msg="proxy running".* workers=2 dataPath=${logged}`));
      const clients = Array.from(
        { length: 8 },
        () => new pg.Client({ host: '127.0.0.1', port: rwPort, user: cluster.user, password: cluster.password, database: 'postgres' }),
      );
      await Promise.all(clients.map((client) => client.connect()));
      const ports = await Promise.all(
        clients.map(async (client) => (await client.query('select inet_server_port() as port')).rows[0]?.port),
      );
      expect(ports).toEqual(Array(8).fill(cluster.primary().port));
      await Promise.all(clients.map((client) => client.end()));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      // The container started once: a worker thread loading the bundle did not start a second proxy.
      expect(output.match(/msg="proxy running"/g)).toHaveLength(1);
      expect(output.match(/msg="primary found"/g)).toHaveLength(1);
      expect(output).not.toMatch(/level=error|cannot start/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
