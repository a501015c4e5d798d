/**
 * The HA proxy against the C peer it replaces: pgbench select-only (`-S`, 16 clients, 2 threads) direct to the
 * primary, through pgwarden's proxy and through HAProxy 2.6 in TCP mode, each in a process of its own as
 * deployed (`pgwarden proxy`, `haproxy -f`), arms interleaved in short rounds so the machine's noise hits every
 * arm alike. Then the same with a new connection per transaction (`-C`).
 *
 * The target compares the two at their defaults: the proxy's one data-plane thread (the native path, where
 * `npm install` built it) against HAProxy's one thread per CPU (nbthread). More pairs for the record: one thread
 * each, one thread per CPU each (`--workers auto`), and the native path against the JavaScript one. Then
 * failover: from `pg_promote()` returning on the new primary (old one stopped) to the first successful write
 * through the read-write port, median of 5. And the latency of a query cancel through the read-only port against
 * direct (cancel-latency.ts, a report).
 *
 * `PGWARDEN_BENCH_SECONDS` sets the seconds per arm (default 30, in rounds of about 5 s). Needs Debian `pgbench`
 * on the PATH; installs `haproxy` with apt-get when missing. Loopback only.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { configSchema } from '../shared/config/index.ts';
import { type EmbeddedCluster, freePort, startEmbeddedCluster } from '../shared/embedded/index.ts';
import { silentLogger } from '../shared/log/index.ts';
import { createProxy, type ProxyService } from '../shared/proxy/index.ts';
import { cancelLatencyRows } from './cancel-latency.ts';
import type { BenchRow } from './run.ts';

const SECONDS = Number(process.env.PGWARDEN_BENCH_SECONDS ?? 30);
/** Short rounds: the machine's speed drifts over tens of seconds, and every arm should see the same drift. */
const ROUNDS = Math.max(3, Math.round(SECONDS / 5));
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function has(program: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function ensureHaproxy(): void {
  if (has('haproxy')) return;
  execFileSync('apt-get', ['install', '-y', 'haproxy'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

/** Resolves once something answers the Postgres protocol on `port` (a refusal counts: it listens). */
async function waitForListener(port: number, child: ChildProcess, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} before it listened`);
    const up = await new Promise<boolean>((resolve) => {
      const probe = new pg.Client({ host: '127.0.0.1', port, user: 'nobody', password: 'x', database: 'x', connectionTimeoutMillis: 500 });
      probe.on('error', () => {});
      probe.connect().then(
        () => resolve(true),
        (error: { code?: string }) => resolve(error.code !== 'ECONNREFUSED'),
      );
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`${what} did not start listening`);
}

/** HAProxy in TCP mode in front of `backendPort`; `threads` sets nbthread (default: HAProxy's, one per CPU). */
async function startHaproxy(port: number, backendPort: number, threads?: number): Promise<ChildProcess> {
  const file = path.join(tmpdir(), `pgwarden-bench-haproxy-${process.pid}-${port}.cfg`);
  writeFileSync(
    file,
    [
      'global',
      '  maxconn 4096',
      ...(threads === undefined ? [] : [`  nbthread ${threads}`]),
      'defaults',
      '  mode tcp',
      '  timeout connect 3s',
      '  timeout client 1h',
      '  timeout server 1h',
      'listen postgres',
      `  bind 127.0.0.1:${port}`,
      `  server primary 127.0.0.1:${backendPort}`,
      '',
    ].join('\n'),
  );
  const child = spawn('haproxy', ['-f', file, '-db'], { stdio: 'ignore' });
  try {
    await waitForListener(port, child, 'haproxy');
  } finally {
    // HAProxy has read its configuration once it listens or exits.
    rmSync(file, { force: true });
  }
  return child;
}

/** `pgwarden proxy` in its own process, as deployed, in front of the cluster's nodes. */
async function startProxyProcess(
  cluster: EmbeddedCluster,
  workers: string,
  dataPath = 'auto',
): Promise<{ child: ChildProcess; port: number; roPort: number }> {
  const port = await freePort();
  const roPort = await freePort();
  const child = spawn(
    path.join(ROOT, 'node_modules', '.bin', 'node'),
    [
      path.join(ROOT, 'bin', 'pgwarden.ts'),
      'proxy',
      ...cluster.nodes.flatMap((node) => ['--url', `${node.name}=${cluster.url(node)}`]),
      '--rw-port',
      String(port),
      '--ro-port',
      String(roPort),
      '--api-port',
      String(await freePort()),
      '--listen-host',
      '127.0.0.1',
      '--max-clients',
      '4096',
      '--workers',
      workers,
      '--data-path',
      dataPath,
    ],
    { stdio: 'ignore', env: { ...process.env, PGWARDEN_LOG_LEVEL: 'warn' } },
  );
  await waitForListener(port, child, 'pgwarden proxy');
  return { child, port, roPort };
}

/** CPU seconds used so far by a process (utime + stime from /proc). */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface ArmTotals {
  transactions: number;
  seconds: number;
  cpuSeconds: number;
}

function runPgbench(
  cluster: EmbeddedCluster,
  port: number,
  seconds: number,
  extra: string[],
): Promise<{ tps: number; transactions: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'pgbench',
      [
        '-n',
        '-S',
        '-c',
        '16',
        '-j',
        '2',
        '-T',
        String(seconds),
        ...extra,
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-U',
        cluster.user,
        'postgres',
      ],
      { env: { ...process.env, PGPASSWORD: cluster.password }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const tps = /tps = ([\d.]+)/.exec(out);
      const processed = /number of transactions actually processed: (\d+)/.exec(out);
      if (code !== 0 || !tps || !processed) reject(new Error(`pgbench on port ${port} failed (exit ${code}): ${out.slice(-500)}`));
      else resolve({ tps: Number(tps[1]), transactions: Number(processed[1]) });
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function throughput(
  cluster: EmbeddedCluster,
  arms: Array<{ name: string; port: number; cpu?: () => number }>,
  extra: string[],
): Promise<Map<string, ArmTotals>> {
  const totals = new Map(arms.map((arm) => [arm.name, { transactions: 0, seconds: 0, cpuSeconds: 0 }]));
  const perRound = Math.max(1, Math.round(SECONDS / ROUNDS));
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round so no arm always runs right after another.
    const order = arms.map((_, i) => arms[(i + round) % arms.length] as (typeof arms)[number]);
    for (const arm of order) {
      const cpuBefore = arm.cpu?.() ?? 0;
      const result = await runPgbench(cluster, arm.port, perRound, extra);
      const total = totals.get(arm.name) as ArmTotals;
      total.transactions += result.transactions;
      total.seconds += result.transactions / result.tps;
      total.cpuSeconds += (arm.cpu?.() ?? 0) - cpuBefore;
    }
  }
  return totals;
}

function proxyFor(cluster: EmbeddedCluster, ports: { rw: number; ro: number }): ProxyService {
  return createProxy({
    nodes: cluster.nodes.map((node) => ({ name: node.name, url: cluster.url(node) })),
    settings: {
      ...configSchema.parse({}).proxy,
      rwPort: ports.rw,
      roPort: ports.ro,
      apiPort: 0,
      listenHost: '127.0.0.1',
      maxClients: 4096,
    },
    logger: silentLogger,
  });
}

async function failoverSeconds(cluster: EmbeddedCluster, proxy: ProxyService): Promise<number[]> {
  const samples: number[] = [];
  const write = async () => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: proxy.ports.rw,
      user: cluster.user,
      password: cluster.password,
      database: 'postgres',
      connectionTimeoutMillis: 2000,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('insert into failover_probe default values');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  };
  while (!(await write())) await new Promise((resolve) => setTimeout(resolve, 50));
  for (let i = 0; i < 5; i++) {
    const oldPrimary = cluster.primary();
    const candidate = cluster.replicas()[0];
    if (!candidate) throw new Error('the failover bench needs a replica');
    await cluster.stop(oldPrimary);
    await cluster.promote(candidate);
    const promotedAt = performance.now();
    while (!(await write())) await new Promise((resolve) => setTimeout(resolve, 10));
    samples.push((performance.now() - promotedAt) / 1000);
    await cluster.rejoin(oldPrimary, candidate);
  }
  return samples;
}

export default {
  name: 'proxy',
  async run(): Promise<BenchRow[]> {
    if (!has('pgbench')) throw new Error('pgbench is not on the PATH (Debian package postgresql-client)');
    ensureHaproxy();
    const cluster = await startEmbeddedCluster({ replicas: 1, settings: { max_connections: 200 } });
    const children: ChildProcess[] = [];
    const proxies: ProxyService[] = [];
    try {
      const primary = cluster.primary();
      execFileSync('pgbench', ['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(primary.port), '-U', cluster.user, 'postgres'], {
        env: { ...process.env, PGPASSWORD: cluster.password },
        stdio: 'ignore',
      });
      const cpuOf = (child: ChildProcess) => () => processCpuSeconds(child.pid as number);
      const haproxyPort = await freePort();
      const haproxy = await startHaproxy(haproxyPort, primary.port);
      children.push(haproxy);
      const haproxyOnePort = await freePort();
      const haproxyOne = await startHaproxy(haproxyOnePort, primary.port, 1);
      children.push(haproxyOne);
      const proxy = await startProxyProcess(cluster, 'auto');
      children.push(proxy.child);
      const proxyOne = await startProxyProcess(cluster, '1');
      children.push(proxyOne.child);
      const proxyJs = await startProxyProcess(cluster, '1', 'javascript');
      children.push(proxyJs.child);
      const threads = availableParallelism();
      const arms = [
        { name: 'direct', port: primary.port },
        { name: 'proxy', port: proxy.port, cpu: cpuOf(proxy.child) },
        { name: 'haproxy', port: haproxyPort, cpu: cpuOf(haproxy) },
        { name: 'proxy-1', port: proxyOne.port, cpu: cpuOf(proxyOne.child) },
        { name: 'haproxy-1', port: haproxyOnePort, cpu: cpuOf(haproxyOne) },
        { name: 'proxy-js', port: proxyJs.port, cpu: cpuOf(proxyJs.child) },
      ];
      const rows: BenchRow[] = [];
      for (const [label, extra] of [
        ['select-only', [] as string[]],
        ['select-only -C', ['-C']],
      ] as const) {
        const totals = await throughput(cluster, arms, [...extra]);
        const tps = (name: string) => {
          const t = totals.get(name) as ArmTotals;
          return t.transactions / t.seconds;
        };
        const cpuPerTx = (name: string) => {
          const t = totals.get(name) as ArmTotals;
          return (t.cpuSeconds / t.transactions) * 1e6;
        };
        const versus = (metric: string, ours: string, theirs: string, target?: boolean): BenchRow => ({
          metric: `${label}: ${metric}`,
          value: Math.round(tps(ours)),
          unit: 'tps',
          baseline: Math.round(tps(theirs)),
          ratio: tps(ours) / tps(theirs),
          ...(target ? { target: '>= 1.0', pass: tps(ours) / tps(theirs) >= 1 } : {}),
          note: `CPU per transaction: proxy ${cpuPerTx(ours).toFixed(1)} µs, HAProxy ${cpuPerTx(theirs).toFixed(1)} µs`,
        });
        rows.push(
          { metric: `${label}: direct`, value: Math.round(tps('direct')), unit: 'tps' },
          versus(`proxy vs HAProxy, each at its defaults (1 thread; nbthread ${threads})`, 'proxy-1', 'haproxy', true),
          {
            metric: `${label}: proxy vs direct`,
            value: Math.round(tps('proxy-1')),
            unit: 'tps',
            baseline: Math.round(tps('direct')),
            ratio: tps('proxy-1') / tps('direct'),
          },
          versus('proxy vs HAProxy, one thread each (--workers 1, nbthread 1)', 'proxy-1', 'haproxy-1'),
          versus(`proxy vs HAProxy, ${threads} threads each (--workers auto, nbthread ${threads})`, 'proxy', 'haproxy'),
          {
            metric: `${label}: native vs JavaScript data path, 1 thread each (--data-path)`,
            value: Math.round(tps('proxy-1')),
            unit: 'tps',
            baseline: Math.round(tps('proxy-js')),
            ratio: tps('proxy-1') / tps('proxy-js'),
            note: `CPU per transaction: native ${cpuPerTx('proxy-1').toFixed(1)} µs, JavaScript ${cpuPerTx('proxy-js').toFixed(1)} µs`,
          },
        );
      }
      rows.push(...(await cancelLatencyRows(cluster, proxyOne.roPort, cluster.replicas()[0] as (typeof cluster.nodes)[number])));
      for (const child of children.splice(0)) child.kill('SIGTERM');
      const handles = proxyFor(cluster, { rw: await freePort(), ro: await freePort() });
      proxies.push(handles);
      await handles.start();
      const setup = new pg.Client(cluster.url(primary));
      await setup.connect();
      await setup.query('create table if not exists failover_probe (id bigserial primary key, at timestamptz default now())');
      await setup.end();
      const samples = await failoverSeconds(cluster, handles);
      const seconds = median(samples);
      rows.push({
        metric: 'failover: pg_promote() returned → first write through the proxy (median of 5)',
        value: seconds,
        unit: 's',
        target: '<= 1.5',
        pass: seconds <= 1.5,
        note: `samples ${samples.map((s) => s.toFixed(3)).join(', ')}; default checkInterval 1s`,
      });
      return rows;
    } finally {
      await Promise.all(proxies.map((p) => p.stop()));
      for (const child of children) child.kill('SIGTERM');
      await cluster.close();
    }
  },
};
