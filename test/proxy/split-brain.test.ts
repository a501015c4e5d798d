import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../shared/log/index.ts';
import { createProxy } from '../../shared/proxy/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { clientVia, connectError, eventually, getJson, landOn, proxyNodes, testSettings } from './helpers.ts';

let cluster: TestCluster;
let rogue: TestCluster;

beforeAll(async () => {
  [cluster, rogue] = await Promise.all([startTestCluster({ replicas: 1 }), startTestCluster({ replicas: 0 })]);
});

afterAll(async () => {
  await Promise.all([cluster?.close(), rogue?.close()]);
});

describe('split brain', () => {
  it('refuses read-write clients (57P03) while two primaries share a timeline, and reports it', async () => {
    // Two separately initialised primaries, both on timeline 1: nothing tells which one holds the truth.
    const proxy = createProxy({
      nodes: [
        { name: 'pg-0', url: cluster.url('pg-0') },
        { name: 'rogue', url: rogue.url('pg-0') },
      ],
      settings: testSettings(),
      logger: createMemoryLogger(),
    });
    await proxy.start();
    try {
      const error = await connectError(cluster, proxy.ports.rw);
      expect(error?.code).toBe('57P03');
      expect(error?.message).toBe('split brain: several primaries on the same timeline; pgwarden proxy refuses read-write connections');
      expect((await getJson(proxy.ports.api, '/primary')).body).toEqual({ primary: null, reason: 'split_brain' });
      expect((await getJson(proxy.ports.api, '/topology')).body.splitBrain).toEqual({
        kind: 'unresolved',
        primaries: ['pg-0', 'rogue'],
        timeline: 1,
      });
      const metrics = await (await fetch(`http://127.0.0.1:${proxy.ports.api}/metrics`)).text();
      expect(metrics).toContain('pgwarden_proxy_split_brain 2');
      // Read-only has no replica here and no single primary to fall back to: refused as well.
      expect((await connectError(cluster, proxy.ports.ro))?.code).toBe('57P03');
    } finally {
      await proxy.stop();
    }
  });

  it('routes read-write to the primary on the higher timeline and fences the clients of the other', async () => {
    const proxy = createProxy({ nodes: proxyNodes(cluster), settings: testSettings(), logger: createMemoryLogger() });
    await proxy.start();
    try {
      const old = await clientVia(cluster, proxy.ports.rw);
      const oldClosed = new Promise<void>((resolve) => old.once('end', () => resolve()));
      expect((await landOn(cluster, proxy.ports.rw)).port).toBe(cluster.node('pg-0').port);

      // The replica is promoted while the old primary keeps running: timeline 2 against timeline 1.
      await cluster.promote('pg-1');
      await eventually(() => (proxy.state().primary === 'pg-1' ? true : undefined), 20_000, 'pg-1 as the read-write target');
      await oldClosed;
      expect(cluster.isRunning('pg-0'), 'the superseded primary still runs').toBe(true);

      expect(await landOn(cluster, proxy.ports.rw)).toEqual({ port: cluster.node('pg-1').port, recovery: false });
      const topology = (await getJson(proxy.ports.api, '/topology')).body;
      expect(topology.splitBrain).toEqual({ kind: 'resolved', primaries: ['pg-0', 'pg-1'], chosen: 'pg-1', timeline: 2 });
      const metrics = await (await fetch(`http://127.0.0.1:${proxy.ports.api}/metrics`)).text();
      expect(metrics).toContain('pgwarden_proxy_split_brain 1');
    } finally {
      await proxy.stop();
    }
  });
});
