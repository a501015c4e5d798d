/**
 * The proxy's own connection to a node: refused connects reach the client as a readable 08006, and the byte
 * counters see both directions. The node sits behind a loopback TCP forwarder, so the test can make it refuse
 * new connections while the proxy's monitoring connection (already forwarded) keeps reporting it healthy.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../shared/log/index.ts';
import { createProxy, ProxyListenError, type ProxyService } from '../../shared/proxy/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { clientVia, connectError, eventually, landOn, testSettings } from './helpers.ts';

let cluster: TestCluster;
let proxy: ProxyService;
let forwarder: Server;
const forwarded = new Set<Socket>();

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 0 });
  const primary = cluster.primary();
  forwarder = createServer((socket) => {
    const upstream = createConnection({ host: '127.0.0.1', port: primary.port });
    forwarded.add(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
    socket.on('close', () => forwarded.delete(socket));
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => forwarder.listen(0, '127.0.0.1', resolve));
  const address = forwarder.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = cluster.url(primary).replace(`:${primary.port}/`, `:${port}/`);
  proxy = createProxy({ nodes: [{ name: primary.name, url }], settings: testSettings(), logger: createMemoryLogger() });
  await proxy.start();
  await eventually(() => proxy.state().primary ?? undefined, 20_000, 'the primary routed');
});

afterAll(async () => {
  await proxy?.stop();
  for (const socket of forwarded) socket.destroy();
  forwarder?.close();
  await cluster?.close();
});

describe('connections to the node', () => {
  it('counts the bytes of a proxied session both ways', async () => {
    const before = proxy.state().nodes[0];
    expect(await landOn(cluster, proxy.ports.rw), 'read-write lands on the primary').toMatchObject({ recovery: false });
    const after = await eventually(() => {
      const node = proxy.state().nodes[0];
      return node && node.connections.rw === 0 ? node : undefined;
    });
    expect(after.connectionsTotal.rw).toBe((before?.connectionsTotal.rw ?? 0) + 1);
    expect(after.bytesIn).toBeGreaterThan(before?.bytesIn ?? 0);
    expect(after.bytesOut).toBeGreaterThan(before?.bytesOut ?? 0);
  });

  it('answers 08006 when the node refuses the connection, and frees the client slot', async () => {
    // Stop accepting: new connects are refused, the forwarded monitoring connection stays up.
    forwarder.close();
    const error = await connectError(cluster, proxy.ports.rw);
    expect(error?.code).toBe('08006');
    expect(error?.message).toBe('pgwarden proxy could not connect to the database node');
    await eventually(() => (proxy.state().clients.active === 0 ? true : undefined), 5000, 'the refused client released');
  });
});

describe('fallback paths', () => {
  it('proxies and refuses on the streams data path (the one used when the runtime lacks the TCP bindings)', async () => {
    const primary = cluster.primary();
    const streams = createProxy({
      nodes: [{ name: primary.name, url: cluster.url(primary) }],
      settings: testSettings({ maxClients: 1 }),
      logger: createMemoryLogger(),
      dataPath: 'streams',
    });
    await streams.start();
    try {
      await eventually(() => streams.state().primary ?? undefined, 20_000, 'the primary routed');
      expect(await landOn(cluster, streams.ports.rw), 'read-write lands on the primary').toMatchObject({ recovery: false });
      const node = await eventually(() => {
        const n = streams.state().nodes[0];
        return n && n.connections.rw === 0 ? n : undefined;
      });
      expect(node.bytesIn).toBeGreaterThan(0);
      expect(node.bytesOut).toBeGreaterThan(0);
      const held = await clientVia(cluster, streams.ports.rw);
      const error = await connectError(cluster, streams.ports.rw);
      expect(error?.code).toBe('53300');
      await held.end();
    } finally {
      await streams.stop();
    }
  });

  it('connects to a node given by host name (clients then stay net Sockets end to end)', async () => {
    const primary = cluster.primary();
    const url = cluster.url(primary).replace('@127.0.0.1:', '@localhost:');
    const named = createProxy({ nodes: [{ name: primary.name, url }], settings: testSettings(), logger: createMemoryLogger() });
    await named.start();
    try {
      await eventually(() => named.state().primary ?? undefined, 20_000, 'the primary routed');
      expect(named.state().nodes[0]?.host).toBe('localhost');
      expect(await landOn(cluster, named.ports.rw)).toEqual({ port: primary.port, recovery: false });
    } finally {
      await named.stop();
    }
  });
});

describe('binding', () => {
  it('fails start with a ProxyListenError naming the HTTP API and the port another process holds', async () => {
    const primary = cluster.primary();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const blocked = createProxy({
      nodes: [{ name: primary.name, url: cluster.url(primary) }],
      settings: testSettings({ apiPort: port }),
      logger: createMemoryLogger(),
    });
    try {
      const error = await blocked.start().then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(ProxyListenError);
      expect((error as ProxyListenError).port).toBe(port);
      expect((error as Error).message).toMatch(new RegExp(`^HTTP API: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
      expect(blocked.state().status).toBe('stopped');
    } finally {
      await blocked.stop();
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
