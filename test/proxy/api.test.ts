/**
 * The proxy API fails closed: without a token every mutation answers 403 and changes nothing, with one a missing
 * or wrong bearer answers 401; reads stay open either way; an API reachable off this host without a token says
 * so at start in one error line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../shared/log/index.ts';
import { createProxy, describeApiExposure, isLoopbackHost, type ProxyService } from '../../shared/proxy/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { eventually, getJson, proxyNodes, testSettings } from './helpers.ts';

const TOKEN = 'api-test-token-5678';
const DISABLED = { error: 'mutations are disabled: no API token configured' };

let cluster: TestCluster;
const running: ProxyService[] = [];

async function startProxy(overrides: Parameters<typeof testSettings>[0], logger = createMemoryLogger()) {
  const proxy = createProxy({ nodes: proxyNodes(cluster), settings: testSettings(overrides), logger });
  running.push(proxy);
  await proxy.start();
  await eventually(() => (proxy.state().replicas.length === 1 ? true : undefined), 20_000, 'the replica in the read-only pool');
  return { proxy, logger };
}

/** The replica's entry in /topology, as an operator reads it. */
async function replicaView(proxy: ProxyService): Promise<{ drained: boolean; routing: { ro: boolean } }> {
  const topology = await getJson(proxy.ports.api, '/topology');
  const nodes = topology.body.nodes as Array<{ name: string; drained: boolean; routing: { ro: boolean } }>;
  return nodes.find((n) => n.name === 'pg-1') as { drained: boolean; routing: { ro: boolean } };
}

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 1 });
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await cluster?.close();
});

describe('proxy API without a token', () => {
  let proxy: ProxyService;
  beforeAll(async () => {
    ({ proxy } = await startProxy({ apiToken: undefined }));
  });

  it('refuses drain and undrain with 403, with or without a bearer, and the node stays in routing', async () => {
    for (const action of ['drain', 'undrain']) {
      expect(await getJson(proxy.ports.api, `/nodes/pg-1/${action}`, { method: 'POST' })).toEqual({ status: 403, body: DISABLED });
      const guessed = await getJson(proxy.ports.api, `/nodes/pg-1/${action}`, {
        method: 'POST',
        headers: { authorization: 'Bearer anything-at-all' },
      });
      expect(guessed).toEqual({ status: 403, body: DISABLED });
    }
    expect(await replicaView(proxy)).toMatchObject({ drained: false, routing: { ro: true } });
  });

  it('refuses every other mutating request too, whatever its path or method', async () => {
    for (const [method, path] of [
      ['POST', '/switchover'],
      ['PUT', '/nodes/pg-1/drain'],
      ['DELETE', '/nodes/pg-1'],
      ['POST', '/health'],
    ] as const) {
      expect(await getJson(proxy.ports.api, path, { method })).toEqual({ status: 403, body: DISABLED });
    }
  });

  it('keeps the reads open: health, primary, topology and metrics', async () => {
    expect((await getJson(proxy.ports.api, '/health')).status).toBe(200);
    expect((await getJson(proxy.ports.api, '/primary')).body).toEqual({ primary: 'pg-0' });
    expect((await getJson(proxy.ports.api, '/topology')).status).toBe(200);
    const metrics = await fetch(`http://127.0.0.1:${proxy.ports.api}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('pgwarden_proxy_node_up{node="pg-1"} 1');
  });
});

describe('proxy API with a token', () => {
  let proxy: ProxyService;
  beforeAll(async () => {
    ({ proxy } = await startProxy({ apiToken: TOKEN }));
  });

  it('answers 401 with a Bearer challenge to a missing or wrong token, and drains nothing', async () => {
    const missing = await fetch(`http://127.0.0.1:${proxy.ports.api}/nodes/pg-1/drain`, { method: 'POST' });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    for (const authorization of ['Bearer wrong-token-xx', `Bearer ${TOKEN}x`, TOKEN, `Basic ${TOKEN}`]) {
      const wrong = await getJson(proxy.ports.api, '/nodes/pg-1/drain', { method: 'POST', headers: { authorization } });
      expect(wrong).toEqual({ status: 401, body: { error: 'a valid "Authorization: Bearer <token>" header is required' } });
    }
    expect(await replicaView(proxy)).toMatchObject({ drained: false, routing: { ro: true } });
  });

  it('drains and undrains with the right token', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const drained = await getJson(proxy.ports.api, '/nodes/pg-1/drain', { method: 'POST', headers: auth });
    expect(drained).toEqual({ status: 200, body: { node: 'pg-1', drained: true } });
    expect(await replicaView(proxy)).toMatchObject({ drained: true, routing: { ro: false } });
    const undrained = await getJson(proxy.ports.api, '/nodes/pg-1/undrain', { method: 'POST', headers: auth });
    expect(undrained).toEqual({ status: 200, body: { node: 'pg-1', drained: false } });
    await eventually(async () => ((await replicaView(proxy)).routing.ro ? true : undefined), 10_000, 'pg-1 back in the pool');
  });

  it('answers a wrong method on a known path with 405 once authorized', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await getJson(proxy.ports.api, '/nodes/pg-1/drain')).status).toBe(405);
    expect((await getJson(proxy.ports.api, '/nodes/pg-1/drain', { method: 'PUT', headers: auth })).status).toBe(405);
    expect((await getJson(proxy.ports.api, '/health', { method: 'POST', headers: auth })).status).toBe(405);
    expect((await getJson(proxy.ports.api, '/nodes/pg-9/drain', { method: 'POST', headers: auth })).status).toBe(404);
  });
});

describe('proxy API exposure at start', () => {
  // Bound on every interface so the proxy sees a non-loopback address; the test only ever talks to 127.0.0.1.
  it('logs one error line naming the address when reachable off this host without a token', async () => {
    const { proxy, logger } = await startProxy({ apiHost: '0.0.0.0', apiToken: undefined });
    const errors = logger.records.filter((r) => r.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toContain(`proxy API on 0.0.0.0:${proxy.ports.api} is reachable off this host and has no token`);
    expect(errors[0]?.message).toContain('mutations are disabled: no API token configured');
    expect((await getJson(proxy.ports.api, '/nodes/pg-1/drain', { method: 'POST' })).status).toBe(403);
  });

  it('logs no error when the off-host API has a token, and only an info line on loopback without one', async () => {
    const withToken = await startProxy({ apiHost: '0.0.0.0', apiToken: TOKEN });
    expect(withToken.logger.records.filter((r) => r.level === 'error')).toEqual([]);
    expect(withToken.logger.records.map((r) => r.message).join('\n')).not.toContain('mutations are disabled');
    const loopback = await startProxy({ apiToken: undefined });
    expect(loopback.logger.records.filter((r) => r.level === 'error')).toEqual([]);
    const notice = loopback.logger.records.find((r) => r.message.includes('mutations are disabled'));
    expect(notice?.level).toBe('info');
  });

  it('tells loopback binds from the rest, and treats a name it cannot vouch for as off-host', () => {
    for (const host of ['127.0.0.1', '127.0.0.53', '::1', '[::1]', '::ffff:127.0.0.1', 'localhost']) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of ['0.0.0.0', '::', '', '10.0.0.5', 'fe80::1', 'proxy.internal', '::ffff:10.0.0.1']) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
    expect(describeApiExposure('0.0.0.0', '0.0.0.0:8008', undefined)?.level).toBe('error');
    expect(describeApiExposure('0.0.0.0', '0.0.0.0:8008', TOKEN)).toBeNull();
    expect(describeApiExposure('127.0.0.1', '127.0.0.1:8008', undefined)?.level).toBe('info');
  });
});
