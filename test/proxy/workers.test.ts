/**
 * The proxy with two data-plane threads (`workers: 2`): both threads accept on the shared ports, and the whole
 * proxy still behaves as one — routing, fencing, the client limit, counters and drain span both threads.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../shared/log/index.ts';
import { createProxy, type ProxyService } from '../../shared/proxy/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { clientVia, connectError, eventually, landOn, proxyNodes, testSettings, whereAmI } from './helpers.ts';

/** Clients opened at once: with two sockets sharing a port, all of them on one thread has odds of 2 in 2^16. */
const CLIENTS = 16;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 1 });
});

afterAll(async () => {
  await cluster?.close();
});

async function metricsText(proxy: ProxyService): Promise<string> {
  return (await fetch(`http://127.0.0.1:${proxy.ports.api}/metrics`)).text();
}

/** Connections routed by each thread, from `pgwarden_proxy_worker_connections_total`. */
function routedPerWorker(metrics: string): number[] {
  return [...metrics.matchAll(/pgwarden_proxy_worker_connections_total\{worker="(\d+)"\} (\d+)/g)]
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((match) => Number(match[2]));
}

function openClients(port: number, count = CLIENTS): Promise<pg.Client[]> {
  return Promise.all(Array.from({ length: count }, () => clientVia(cluster, port)));
}

describe('two data-plane threads', () => {
  it('spread clients over both threads, route each where the plan says, and count them once for the proxy', async () => {
    const proxy = createProxy({ nodes: proxyNodes(cluster), settings: testSettings({ workers: 2 }), logger: createMemoryLogger() });
    await proxy.start();
    try {
      const held = await openClients(proxy.ports.rw);
      const placed = await Promise.all(held.map((client) => whereAmI(client)));
      expect(placed).toEqual(placed.map(() => ({ port: cluster.node('pg-0').port, recovery: false })));
      const state = proxy.state();
      expect(state.workers).toBe(2);
      expect(state.clients.active).toBe(CLIENTS);
      expect(state.nodes[0]?.connections).toEqual({ rw: CLIENTS, ro: 0 });
      expect(state.nodes[0]?.bytesOut).toBeGreaterThan(0);
      const routed = routedPerWorker(await metricsText(proxy));
      expect(routed).toHaveLength(2);
      for (const n of routed) expect(n, 'clients routed by each worker').toBeGreaterThan(0);
      expect(routed.reduce((a, b) => a + b, 0)).toBe(CLIENTS);

      const ro = await landOn(cluster, proxy.ports.ro);
      expect(ro).toEqual({ port: cluster.node('pg-1').port, recovery: true });
      await Promise.all(held.map((client) => client.end()));
      await eventually(() => (proxy.state().clients.active === 0 ? true : undefined), 10_000, 'every client released');
      expect(proxy.state().nodes[0]?.connectionsTotal.rw).toBe(CLIENTS);
    } finally {
      await proxy.stop();
    }
  });

  it('hold maxClients for the proxy as a whole, whichever thread accepts', async () => {
    const proxy = createProxy({
      nodes: proxyNodes(cluster),
      settings: testSettings({ workers: 2, maxClients: 6 }),
      logger: createMemoryLogger(),
    });
    await proxy.start();
    try {
      const held = await openClients(proxy.ports.rw, 6);
      const errors = await Promise.all(Array.from({ length: 8 }, () => connectError(cluster, proxy.ports.rw)));
      expect(errors.map((error) => error?.code)).toEqual(Array(8).fill('53300'));
      expect(await metricsText(proxy)).toMatch(/pgwarden_proxy_connections_refused_total\{listener="rw",reason="too_many_clients"\} 8/);
      await Promise.all(held.map((client) => client.end()));
    } finally {
      await proxy.stop();
    }
  });

  it('drain waits for the clients of both threads, then stops', async () => {
    const logger = createMemoryLogger();
    const proxy = createProxy({
      nodes: proxyNodes(cluster),
      settings: testSettings({ workers: 2, drainTimeout: 20_000 }),
      logger,
    });
    await proxy.start();
    const held = await openClients(proxy.ports.rw);
    const drained = proxy.drain();
    await eventually(() => (proxy.state().status === 'draining' ? true : undefined));
    // Both threads stop accepting (the worker a moment later, on its message): then nothing listens on the port.
    await eventually(
      async () => ((await connectError(cluster, proxy.ports.rw))?.code === 'ECONNREFUSED' ? true : undefined),
      10_000,
      'both listeners closed',
    );
    // Open clients keep working while the proxy drains.
    expect(await whereAmI(held[0] as pg.Client), 'the held client is on the primary').toMatchObject({ recovery: false });
    await Promise.all(held.map((client) => client.end()));
    await drained;
    expect(proxy.state().status).toBe('stopped');
    expect(logger.records.filter((r) => r.message.startsWith('drain timeout'))).toEqual([]);
  });
});

// Last: it promotes pg-1 while pg-0 keeps running.
describe('two data-plane threads, fencing', () => {
  it('close the demoted primary’s clients on both threads while it keeps running', async () => {
    const logger = createMemoryLogger();
    const proxy = createProxy({ nodes: proxyNodes(cluster), settings: testSettings({ workers: 2 }), logger });
    await proxy.start();
    try {
      const held = await openClients(proxy.ports.rw);
      const closed = held.map((client) => new Promise<void>((resolve) => client.once('end', () => resolve())));
      for (const n of routedPerWorker(await metricsText(proxy))) expect(n, 'clients routed by each worker').toBeGreaterThan(0);

      // Timeline 2 against timeline 1: read-write moves to pg-1, pg-0's clients are fenced by the proxy.
      await cluster.promote('pg-1');
      await eventually(() => (proxy.state().primary === 'pg-1' ? true : undefined), 20_000, 'pg-1 as the read-write target');
      await Promise.all(closed);
      expect(cluster.isRunning('pg-0'), 'the superseded primary still runs (fenced by the proxy, not stopped)').toBe(true);
      await eventually(() => (proxy.state().nodes[0]?.connections.rw === 0 ? true : undefined), 10_000, 'no client left on pg-0');
      const fenced = logger.records.filter((r) => r.message.startsWith('fenced read-write clients'));
      expect(fenced[0]?.fields).toMatchObject({ node: 'pg-0', clients: CLIENTS, primary: 'pg-1' });

      const after = await Promise.all(Array.from({ length: 4 }, () => landOn(cluster, proxy.ports.rw)));
      expect(after).toEqual(after.map(() => ({ port: cluster.node('pg-1').port, recovery: false })));
    } finally {
      await proxy.stop();
    }
  });
});
