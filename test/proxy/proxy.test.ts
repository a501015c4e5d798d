import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../shared/log/index.ts';
import { createProxy, type ProxyService } from '../../shared/proxy/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { clientVia, connectError, eventually, getJson, landOn, proxyNodes, testSettings, whereAmI } from './helpers.ts';

const TOKEN = 'proxy-test-token-1234';

let cluster: TestCluster;
let proxy: ProxyService;

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 2 });
  proxy = createProxy({ nodes: proxyNodes(cluster), settings: testSettings({ apiToken: TOKEN }), logger: createMemoryLogger() });
  await proxy.start();
  await eventually(() => (proxy.state().replicas.length === 2 ? true : undefined), 20_000, 'both replicas in the read-only pool');
});

afterAll(async () => {
  await proxy?.stop();
  await cluster?.close();
});

describe('routing', () => {
  it('sends read-write clients to the primary and read-only clients to replicas', async () => {
    const primaryPort = cluster.primary().port;
    const replicaPorts = cluster.replicas().map((r) => r.port);
    const rw = await landOn(cluster, proxy.ports.rw);
    expect(rw).toEqual({ port: primaryPort, recovery: false });
    for (let i = 0; i < 4; i++) {
      const ro = await landOn(cluster, proxy.ports.ro);
      expect(ro, 'read-only lands on a replica').toMatchObject({ recovery: true });
      expect(replicaPorts).toContain(ro.port);
    }
  });

  it('spreads read-only clients by least connections: a new client goes to the replica with fewer open ones', async () => {
    const [a, b] = cluster.replicas();
    const held: pg.Client[] = [];
    for (let i = 0; i < 4; i++) held.push(await clientVia(cluster, proxy.ports.ro));
    const placed = await Promise.all(held.map((c) => whereAmI(c)));
    // Four at once spread two and two (round robin would too).
    expect(placed.filter((p) => p.port === a?.port)).toHaveLength(2);
    expect(placed.filter((p) => p.port === b?.port)).toHaveLength(2);
    // Close both clients on replica a: with least connections the next two both go to a, where round robin
    // would put one of them on the busier replica b.
    const onA = held.filter((_, i) => placed[i]?.port === a?.port);
    await Promise.all(onA.map((c) => c.end()));
    await eventually(() => (proxy.state().nodes.find((n) => n.name === a?.name)?.connections.ro === 0 ? true : undefined));
    const next = [await clientVia(cluster, proxy.ports.ro), await clientVia(cluster, proxy.ports.ro)];
    const nextPlaced = await Promise.all(next.map((c) => whereAmI(c)));
    expect(nextPlaced.map((p) => p.port)).toEqual([a?.port, a?.port]);
    await Promise.all([...held.filter((c) => !onA.includes(c)), ...next].map((c) => c.end()));
  });

  it('passes the SSL request through to the node (the node answers it, the proxy does not parse it)', async () => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: proxy.ports.rw,
      user: cluster.user,
      password: cluster.password,
      database: 'postgres',
      ssl: { rejectUnauthorized: false },
    });
    client.on('error', () => {});
    // The embedded nodes run without TLS, so Postgres itself answers 'N' and the driver reports it.
    await expect(client.connect()).rejects.toThrow(/does not support SSL/);
  });
});

describe('HTTP API', () => {
  it('reports health, the primary, the replicas and the topology', async () => {
    expect((await getJson(proxy.ports.api, '/health')).status).toBe(200);
    const primary = await getJson(proxy.ports.api, '/primary');
    expect(primary).toEqual({ status: 200, body: { primary: cluster.primary().name } });
    const replica = await getJson(proxy.ports.api, '/replica');
    expect(replica.status).toBe(200);
    const topology = await getJson(proxy.ports.api, '/topology');
    expect(topology.status).toBe(200);
    const nodes = topology.body.nodes as Array<Record<string, unknown>>;
    expect(nodes.map((n) => [n.name, n.role, n.timeline])).toEqual([
      ['pg-0', 'primary', 1],
      ['pg-1', 'replica', 1],
      ['pg-2', 'replica', 1],
    ]);
    expect(nodes[1]?.lagBytes).toBeTypeOf('number');
    expect(topology.body.splitBrain).toEqual({ kind: 'none' });
    expect((await getJson(proxy.ports.api, '/nope')).status).toBe(404);
  });

  it('exports connections, bytes, check latency, split brain and leader metrics', async () => {
    await landOn(cluster, proxy.ports.rw);
    const response = await fetch(`http://127.0.0.1:${proxy.ports.api}/metrics`);
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text).toMatch(/pgwarden_proxy_connections_total\{listener="rw",node="pg-0"\} [1-9]/);
    expect(text).toMatch(/pgwarden_proxy_connections_active\{listener="ro",node="pg-1"\} 0/);
    expect(text).toMatch(/pgwarden_proxy_bytes_total\{node="pg-0",direction="out"\} [1-9]/);
    expect(text).toMatch(/pgwarden_proxy_health_check_seconds_count\{node="pg-1",outcome="ok"\} [1-9]/);
    expect(text).toContain('pgwarden_proxy_split_brain 0');
    expect(text).toContain('pgwarden_proxy_leader 1');
    expect(text).toContain('pgwarden_proxy_failovers_total 0');
  });

  it('drains and undrains a node only with the bearer token, closing its clients', async () => {
    const replica = cluster.replicas()[0]?.name as string;
    const noToken = await getJson(proxy.ports.api, `/nodes/${replica}/drain`, { method: 'POST' });
    expect(noToken.status).toBe(401);
    const wrong = await getJson(proxy.ports.api, `/nodes/${replica}/drain`, {
      method: 'POST',
      headers: { authorization: 'Bearer wrong-token-xx' },
    });
    expect(wrong.status).toBe(401);
    const unknown = await getJson(proxy.ports.api, '/nodes/pg-9/drain', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(unknown.status).toBe(404);

    const held: pg.Client[] = [];
    for (let i = 0; i < 2; i++) held.push(await clientVia(cluster, proxy.ports.ro));
    const drainedPort = cluster.node(replica).port;
    const onDrained = held.filter((_, i) => i >= 0);
    const placed = await Promise.all(onDrained.map((c) => whereAmI(c)));
    const victim = held[placed.findIndex((p) => p.port === drainedPort)] as pg.Client;

    const drained = await getJson(proxy.ports.api, `/nodes/${replica}/drain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(drained).toEqual({ status: 200, body: { node: replica, drained: true } });
    await expect(victim.query('select 1')).rejects.toThrow();
    for (let i = 0; i < 3; i++) expect((await landOn(cluster, proxy.ports.ro)).port).not.toBe(drainedPort);

    const undrained = await getJson(proxy.ports.api, `/nodes/${replica}/undrain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(undrained).toEqual({ status: 200, body: { node: replica, drained: false } });
    const ports = new Set<number>();
    for (let i = 0; i < 4; i++) ports.add((await landOn(cluster, proxy.ports.ro)).port);
    expect([...ports]).toContain(drainedPort);
    await Promise.all(held.map((c) => c.end().catch(() => {})));
  });

  it('answers 503 on /primary and refuses read-write clients with 57P03 while the primary is drained', async () => {
    const primary = cluster.primary().name;
    const auth = { authorization: `Bearer ${TOKEN}` };
    await getJson(proxy.ports.api, `/nodes/${primary}/drain`, { method: 'POST', headers: auth });
    try {
      expect((await getJson(proxy.ports.api, '/primary')).status).toBe(503);
      const error = await connectError(cluster, proxy.ports.rw);
      expect(error?.code).toBe('57P03');
      expect(error?.message).toBe('no primary available through pgwarden proxy');
    } finally {
      await getJson(proxy.ports.api, `/nodes/${primary}/undrain`, { method: 'POST', headers: auth });
    }
    expect(await landOn(cluster, proxy.ports.rw), 'read-write lands on the primary').toMatchObject({ recovery: false });
  });
});

describe('limits', () => {
  it('refuses clients beyond maxClients with SQLSTATE 53300 and a readable message', async () => {
    const small = createProxy({ nodes: proxyNodes(cluster), settings: testSettings({ maxClients: 2 }), logger: createMemoryLogger() });
    await small.start();
    try {
      const held = [await clientVia(cluster, small.ports.rw), await clientVia(cluster, small.ports.ro)];
      const error = await connectError(cluster, small.ports.rw);
      expect(error?.code).toBe('53300');
      expect(error?.message).toBe('too many clients through pgwarden proxy');
      await Promise.all(held.map((c) => c.end()));
      await eventually(() => (small.state().clients.active === 0 ? true : undefined));
      expect(await landOn(cluster, small.ports.rw), 'read-write lands on the primary').toMatchObject({ recovery: false });
      const metrics = await (await fetch(`http://127.0.0.1:${small.ports.api}/metrics`)).text();
      expect(metrics).toMatch(/pgwarden_proxy_connections_refused_total\{listener="rw",reason="too_many_clients"\} 1/);
    } finally {
      await small.stop();
    }
  });

  it('refuses read-only clients with 57P03 when no node is healthy', async () => {
    const lonely = createProxy({
      nodes: [{ name: 'gone', url: 'postgres://postgres:secret-pass@127.0.0.1:1/postgres' }],
      settings: testSettings(),
      logger: createMemoryLogger(),
    });
    await lonely.start();
    try {
      const error = await connectError(cluster, lonely.ports.ro);
      expect(error?.code).toBe('57P03');
      expect(error?.message).toBe('no node available for read-only connections through pgwarden proxy');
      expect((await getJson(lonely.ports.api, '/replica')).status).toBe(503);
    } finally {
      await lonely.stop();
    }
  });
});
