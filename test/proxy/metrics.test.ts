/**
 * The proxy's /metrics over a real cluster, scraped as Prometheus would: build info, the process metrics on the
 * proxy's own registry, each node's role and routing as state sets, split brain as a state set, the client limit;
 * and the scrape passes `promtool check metrics` (Debian's `prometheus` package; skipped when it is missing).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { register as globalRegistry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };
import { createMemoryLogger } from '../../shared/log/index.ts';
import { createProxy, type ProxyService } from '../../shared/proxy/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { clientVia, eventually, proxyNodes, testSettings } from './helpers.ts';

/** promtool lints exposition text; it comes with Debian's `prometheus` package (`apt-get install prometheus`). */
const promtool = spawnSync('promtool', ['--version']).status === 0;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of an exposition text (the subset prom-client writes: no timestamps, no escaped quotes). */
function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample named `name` whose labels include `labels` (undefined when there is none). */
function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** Each node's roles that are 1: what `pgwarden_proxy_node_role` says about every node. */
function rolesOf(samples: Sample[]): Record<string, string[]> {
  const roles: Record<string, string[]> = {};
  for (const s of samples.filter((s) => s.name === 'pgwarden_proxy_node_role')) {
    roles[s.labels.node as string] ??= [];
    if (s.value === 1) roles[s.labels.node as string]?.push(s.labels.role as string);
    else expect(s.value).toBe(0);
  }
  return roles;
}

async function scrape(proxy: ProxyService): Promise<{ text: string; samples: Sample[] }> {
  const response = await fetch(`http://127.0.0.1:${proxy.ports.api}/metrics`);
  expect(response.status).toBe(200);
  const text = await response.text();
  return { text, samples: parseSamples(text) };
}

let cluster: TestCluster;
let rogue: TestCluster;
const running: ProxyService[] = [];

async function startProxy(nodes: Array<{ name: string; url: string }>, maxClients = 50): Promise<ProxyService> {
  const proxy = createProxy({ nodes, settings: testSettings({ maxClients }), logger: createMemoryLogger() });
  running.push(proxy);
  await proxy.start();
  return proxy;
}

beforeAll(async () => {
  [cluster, rogue] = await Promise.all([startTestCluster({ replicas: 2 }), startTestCluster({ replicas: 0 })]);
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await Promise.all([cluster?.close(), rogue?.close()]);
});

describe('proxy metrics', () => {
  let proxy: ProxyService;
  beforeAll(async () => {
    proxy = await startProxy(proxyNodes(cluster));
    await eventually(() => (proxy.state().replicas.length === 2 ? true : undefined), 20_000, 'both replicas in the read-only pool');
  });

  it('exports build info, the client limit and the process metrics on the proxy registry only', async () => {
    const { samples } = await scrape(proxy);
    expect(
      sampleValue(samples, 'pgwarden_proxy_build_info', {
        version: packageJson.version,
        node_version: process.version,
        data_path: proxy.state().dataPath,
      }),
    ).toBe(1);
    expect(sampleValue(samples, 'pgwarden_proxy_clients_max')).toBe(50);
    expect(sampleValue(samples, 'pgwarden_proxy_clients_active')).toBe(0);
    expect(sampleValue(samples, 'pgwarden_proxy_process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sampleValue(samples, 'pgwarden_proxy_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sampleValue(samples, 'pgwarden_proxy_nodejs_eventloop_lag_seconds')).toBeTypeOf('number');
    expect(await globalRegistry.metrics()).not.toContain('pgwarden_proxy_');
  });

  it("shows the proxy's view of each node's role and routing, and no split brain", async () => {
    const { samples } = await scrape(proxy);
    expect(rolesOf(samples)).toEqual({ 'pg-0': ['primary'], 'pg-1': ['replica'], 'pg-2': ['replica'] });
    // Every role has a series for every node, 0 or 1, so a rule never waits for a series to appear.
    expect(samples.filter((s) => s.name === 'pgwarden_proxy_node_role')).toHaveLength(3 * 4);
    expect(sampleValue(samples, 'pgwarden_proxy_node_routed', { node: 'pg-0', listener: 'rw' })).toBe(1);
    expect(sampleValue(samples, 'pgwarden_proxy_node_routed', { node: 'pg-0', listener: 'ro' })).toBe(0);
    expect(sampleValue(samples, 'pgwarden_proxy_node_routed', { node: 'pg-1', listener: 'ro' })).toBe(1);
    expect(sampleValue(samples, 'pgwarden_proxy_node_routed', { node: 'pg-2', listener: 'rw' })).toBe(0);
    expect(sampleValue(samples, 'pgwarden_proxy_split_brain_state', { state: 'none' })).toBe(1);
    expect(sampleValue(samples, 'pgwarden_proxy_split_brain_state', { state: 'resolved' })).toBe(0);
    expect(sampleValue(samples, 'pgwarden_proxy_split_brain_state', { state: 'unresolved' })).toBe(0);
  });

  it('counts a client against the limit while it is open', async () => {
    const client = await clientVia(cluster, proxy.ports.rw);
    try {
      expect(sampleValue((await scrape(proxy)).samples, 'pgwarden_proxy_clients_active')).toBe(1);
    } finally {
      await client.end();
    }
  });

  it('serves every proxy series the alert rules in infra/prometheus read', async () => {
    const rules = readFileSync(new URL('../../infra/prometheus/pgwarden-proxy.rules.yaml', import.meta.url), 'utf8');
    const read = new Set(rules.match(/pgwarden_proxy_[a-z0-9_]+/g));
    expect(read.size).toBeGreaterThan(5);
    const served = new Set((await scrape(proxy)).samples.map((s) => s.name));
    // Counters the proxy has not incremented yet (refusals) have no sample: their HELP line still names them.
    const described = (await scrape(proxy)).text;
    for (const name of read) expect(served.has(name) || described.includes(`# TYPE ${name} `), name).toBe(true);
  });

  it.skipIf(!promtool)('passes promtool check metrics (needs promtool from the prometheus package)', async () => {
    const { text } = await scrape(proxy);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect({ status: lint.status, output: `${lint.stdout}${lint.stderr}`.trim() }).toEqual({ status: 0, output: '' });
  });

  it('marks a stopped node down and takes it out of the read-only pool', async () => {
    await cluster.stop('pg-2');
    const samples = await eventually(
      async () => {
        const { samples } = await scrape(proxy);
        return rolesOf(samples)['pg-2']?.[0] === 'down' ? samples : undefined;
      },
      20_000,
      'pg-2 reported down',
    );
    expect(rolesOf(samples)).toEqual({ 'pg-0': ['primary'], 'pg-1': ['replica'], 'pg-2': ['down'] });
    expect(sampleValue(samples, 'pgwarden_proxy_node_up', { node: 'pg-2' })).toBe(0);
    expect(sampleValue(samples, 'pgwarden_proxy_node_routed', { node: 'pg-2', listener: 'ro' })).toBe(0);
  });

  it('reports a split brain resolved by the newer timeline: both primaries, read-write on the newer', async () => {
    await cluster.promote('pg-1');
    await eventually(() => (proxy.state().primary === 'pg-1' ? true : undefined), 20_000, 'pg-1 as the read-write target');
    const { samples } = await scrape(proxy);
    expect(rolesOf(samples)).toMatchObject({ 'pg-0': ['primary'], 'pg-1': ['primary'] });
    expect(sampleValue(samples, 'pgwarden_proxy_split_brain_state', { state: 'resolved' })).toBe(1);
    expect(sampleValue(samples, 'pgwarden_proxy_split_brain_state', { state: 'none' })).toBe(0);
    expect(sampleValue(samples, 'pgwarden_proxy_node_routed', { node: 'pg-1', listener: 'rw' })).toBe(1);
    expect(sampleValue(samples, 'pgwarden_proxy_node_routed', { node: 'pg-0', listener: 'rw' })).toBe(0);
  });
});

describe('proxy metrics under an unresolved split brain', () => {
  it('reports it, and no node routed for read-write', async () => {
    // Two separately initialised primaries on timeline 1: nothing orders them.
    const proxy = await startProxy([
      { name: 'pg-0', url: cluster.url('pg-0') },
      { name: 'rogue', url: rogue.url('pg-0') },
    ]);
    const { samples } = await scrape(proxy);
    expect(rolesOf(samples)).toEqual({ 'pg-0': ['primary'], rogue: ['primary'] });
    expect(sampleValue(samples, 'pgwarden_proxy_split_brain_state', { state: 'unresolved' })).toBe(1);
    expect(sampleValue(samples, 'pgwarden_proxy_node_routed', { node: 'pg-0', listener: 'rw' })).toBe(0);
    expect(sampleValue(samples, 'pgwarden_proxy_node_routed', { node: 'rogue', listener: 'rw' })).toBe(0);
    // A second proxy in the process shares the process metrics instead of registering them twice.
    expect(sampleValue(samples, 'pgwarden_proxy_process_cpu_seconds_total')).toBeGreaterThan(0);
  });
});
