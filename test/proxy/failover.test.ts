import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../shared/log/index.ts';
import { createProxy, type ProxyService } from '../../shared/proxy/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { clientVia, eventually, getJson, landOn, proxyNodes, testSettings } from './helpers.ts';

let cluster: TestCluster;
let proxy: ProxyService;

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 2 });
  proxy = createProxy({ nodes: proxyNodes(cluster), settings: testSettings(), logger: createMemoryLogger() });
  await proxy.start();
  const admin = await clientVia(cluster, proxy.ports.rw);
  await admin.query('create table writes (id serial primary key, at timestamptz default now())');
  await admin.end();
});

afterAll(async () => {
  await proxy?.stop();
  await cluster?.close();
});

interface WriteOutcome {
  ok: boolean;
  port?: number;
  code?: string;
}

/** A client that writes through the read-write port in a loop, reconnecting after every error, like an app. */
function startWriteLoop(port: number) {
  const outcomes: WriteOutcome[] = [];
  let running = true;
  let client: pg.Client | undefined;
  const done = (async () => {
    while (running) {
      try {
        client ??= await clientVia(cluster, port);
        const { rows } = await client.query<{ port: number }>('insert into writes default values returning inet_server_port() as port');
        outcomes.push({ ok: true, port: rows[0]?.port });
      } catch (error) {
        outcomes.push({ ok: false, code: (error as { code?: string }).code });
        await client?.end().catch(() => {});
        client = undefined;
        // Not a wait for anything: the pause between reconnects an app's pool would make, so the loop does not
        // spin while the proxy refuses. What the test asserts comes from the outcomes, not from this pace.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    await client?.end().catch(() => {});
  })();
  return {
    outcomes,
    async stop() {
      running = false;
      await done;
    },
  };
}

describe('failover', () => {
  it('follows a promotion under a running write loop: old clients closed, new writes on the new primary, none on a replica', async () => {
    const [oldPrimary, candidate, other] = [cluster.node('pg-0'), cluster.node('pg-1'), cluster.node('pg-2')];
    const idle = await clientVia(cluster, proxy.ports.rw);
    const idleClosed = new Promise<void>((resolve) => idle.once('end', () => resolve()));
    const loop = startWriteLoop(proxy.ports.rw);
    await eventually(() => (loop.outcomes.some((o) => o.ok) ? true : undefined));

    await cluster.stop(oldPrimary);
    await cluster.promote(candidate);
    await cluster.follow(other, candidate);
    const before = loop.outcomes.length;
    await eventually(
      () => (loop.outcomes.slice(before).some((o) => o.ok && o.port === candidate.port) ? true : undefined),
      30_000,
      'a write on the new primary',
    );
    await loop.stop();
    await idleClosed;

    const oks = loop.outcomes.filter((o) => o.ok);
    for (const ok of oks) expect([oldPrimary.port, candidate.port]).toContain(ok.port);
    // 25006 read_only_sql_transaction would mean a write was routed to a node in recovery.
    expect(loop.outcomes.filter((o) => o.code === '25006')).toEqual([]);
    const firstOnNew = loop.outcomes.findIndex((o) => o.ok && o.port === candidate.port);
    expect(loop.outcomes.slice(firstOnNew).filter((o) => o.ok && o.port === oldPrimary.port)).toEqual([]);

    expect(await landOn(cluster, proxy.ports.rw)).toEqual({ port: candidate.port, recovery: false });
    await eventually(
      async () => ((await landOn(cluster, proxy.ports.ro)).port === other.port ? true : undefined),
      20_000,
      'reads on the remaining replica',
    );
    expect(proxy.state().failovers).toBe(1);
    const metrics = await (await fetch(`http://127.0.0.1:${proxy.ports.api}/metrics`)).text();
    expect(metrics).toContain('pgwarden_proxy_failovers_total 1');
    const topology = await getJson(proxy.ports.api, '/topology');
    const nodes = topology.body.nodes as Array<{ name: string; role: string; up: boolean; timeline: number }>;
    expect(nodes.find((n) => n.name === 'pg-0')).toMatchObject({ up: false, role: 'unknown' });
    expect(nodes.find((n) => n.name === 'pg-1')).toMatchObject({ up: true, role: 'primary', timeline: 2 });
  });
});
