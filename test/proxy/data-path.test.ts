/**
 * What the data path itself must get right, whichever runs (the native addon by default, the JavaScript one in the
 * second vitest project): large messages both ways with backpressure, a client's half-close, and the connect
 * deadline of a node that never answers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createMemoryLogger } from '../../shared/log/index.ts';
import { attachCounters, createCounterBuffers, type ProxyCounters } from '../../shared/proxy/counters.ts';
import { createDataPlane, type DataPlane, type DataPlaneOptions } from '../../shared/proxy/data-plane.ts';
import { createProxy, type ProxyService } from '../../shared/proxy/index.ts';
import { createNativeDataPlane, nativeSplice } from '../../shared/proxy/native.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { clientVia, eventually, proxyNodes, testSettings } from './helpers.ts';

const JAVASCRIPT = process.env.PGWARDEN_TEST_PROXY_DATA_PATH === 'javascript';
const MB = 1024 * 1024;

let cluster: TestCluster;
let proxy: ProxyService;

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 0 });
  proxy = createProxy({ nodes: proxyNodes(cluster), settings: testSettings(), logger: createMemoryLogger() });
  await proxy.start();
});

afterAll(async () => {
  await proxy?.stop();
  await cluster?.close();
});

const md5 = (text: string) => createHash('md5').update(text).digest('hex');

/**
 * Sends an SSL request and the client's FIN in one go and returns all it reads until closed: Postgres answers
 * 'N' (no SSL here), then sees the end and closes.
 */
async function sslRequestThenEnd(port: number): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port });
  const received: Buffer[] = [];
  socket.on('data', (chunk) => received.push(chunk));
  await new Promise((resolve) => socket.once('connect', resolve));
  const sslRequest = Buffer.alloc(8);
  sslRequest.writeInt32BE(8, 0);
  sslRequest.writeInt32BE(80877103, 4);
  socket.end(sslRequest);
  await new Promise((resolve) => socket.once('close', resolve));
  return Buffer.concat(received).toString('latin1');
}

describe('the data path', () => {
  it.runIf(process.platform === 'linux')('is the native addon by default on Linux (npm install builds it), JavaScript when set', () => {
    expect(proxy.state().dataPath).toBe(JAVASCRIPT ? 'handles' : 'native');
    if (!JAVASCRIPT) expect(nativeSplice()).toHaveProperty('addon');
  });

  it('moves 8 MB each way intact, also while the client stops reading for a moment', async () => {
    const client = await clientVia(cluster, proxy.ports.rw);
    try {
      const upload = 'pgwarden'.repeat(MB);
      const { rows: up } = await client.query<{ n: number; h: string }>('select length($1::text) as n, md5($1::text) as h', [upload]);
      expect(up[0]).toEqual({ n: 8 * MB, h: md5(upload) });

      // The client's socket stops reading: the node's bytes back up in the proxy until it reads again.
      const stream = (client as unknown as { connection: { stream: Socket } }).connection.stream;
      const result = client.query<{ big: string }>("select repeat('0123456789abcdef', 512 * 1024) as big");
      stream.pause();
      // Resume only once the client has stopped taking bytes (its buffer is at the high-water mark, so Node has
      // stopped reading the socket): from then on the answer queues in the kernel's buffers and the proxy.
      await vi.waitFor(() => expect(stream.readableLength).toBeGreaterThanOrEqual(stream.readableHighWaterMark), { timeout: 10_000 });
      stream.resume();
      const { rows: down } = await result;
      expect(down[0]?.big.length).toBe(8 * MB);
      expect(md5(down[0]?.big ?? '')).toBe(md5('0123456789abcdef'.repeat(512 * 1024)));
    } finally {
      await client.end();
    }
    const node = proxy.state().nodes[0];
    expect(node?.bytesIn).toBeGreaterThan(8 * MB);
    expect(node?.bytesOut).toBeGreaterThan(8 * MB);
  });

  it('passes a client’s half-close on and still delivers the answer', async () => {
    expect(await sslRequestThenEnd(proxy.ports.rw)).toBe('N');
    await eventually(() => (proxy.state().clients.active === 0 ? true : undefined), 5000, 'the half-closed client released');
  });

  it('passes a half-close on the streams path too (the fallback where Node lacks the TCP bindings)', async () => {
    const streams = createProxy({
      nodes: proxyNodes(cluster),
      settings: testSettings(),
      logger: createMemoryLogger(),
      dataPath: 'streams',
    });
    await streams.start();
    try {
      expect(await sslRequestThenEnd(streams.ports.rw)).toBe('N');
    } finally {
      await streams.stop();
    }
  });
});

/**
 * A node that never answers a SYN: a listener with a backlog of 1 in a process whose event loop is blocked, its
 * accept queue filled first, so the kernel drops every further SYN.
 */
async function silentNode(): Promise<{ port: number; close(): void }> {
  const script = `
    const net = require('node:net');
    const server = net.createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      process.stdout.write(String(server.address().port) + '\\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120000);
    });`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('exit', (code) => reject(new Error(`the silent node exited with ${code}`)));
  });
  const fillers: Socket[] = [];
  let accepted = 0;
  for (let i = 0; i < 4; i++) {
    const filler = connect({ host: '127.0.0.1', port });
    filler.on('error', () => {});
    filler.once('connect', () => accepted++);
    fillers.push(filler);
  }
  // Linux queues backlog + 1 connections on a listener nobody accepts from and drops every SYN after that: once
  // two fillers are connected the queue is full and the node is silent.
  await vi.waitFor(() => expect(accepted, 'fillers in the accept queue').toBeGreaterThanOrEqual(2), { timeout: 10_000 });
  return {
    port,
    close() {
      for (const filler of fillers) filler.destroy();
      child.kill('SIGKILL');
    },
  };
}

/** A data plane of the path under test, alone (no control plane), routing read-write clients to one node. */
function planeFor(
  node: { host: string; port: number },
  connectTimeout: number,
  on: Pick<DataPlaneOptions, 'onBackendFailed' | 'onRefused'> = { onBackendFailed: () => {} },
): { plane: DataPlane; counters: ProxyCounters } {
  const counters = attachCounters(createCounterBuffers(1, 1));
  const options: Omit<DataPlaneOptions, 'slot' | 'dataPath'> = {
    nodes: [{ name: 'node', ...node }],
    counters,
    maxClients: 10,
    connectTimeout,
    routes: { primary: 0, rwRefusal: 'no_primary', replicas: [] },
    onIdle: () => {},
    ...on,
  };
  const loaded = nativeSplice();
  const plane =
    !JAVASCRIPT && 'addon' in loaded
      ? createNativeDataPlane(loaded.addon, { ...options, threads: 1 }, counters)
      : createDataPlane({ ...options, slot: 0, dataPath: 'handles' });
  return { plane, counters };
}

function stopPlane(plane: DataPlane): void {
  plane.stopAccepting();
  plane.closeAll();
  plane.stop();
}

describe('half-close with backpressure', () => {
  it('delivers a large answer that follows the client’s FIN to a client that reads slowly', async () => {
    // Not Postgres: a node that answers `size` bytes once the client has ended its side, then closes. Where the
    // node's FIN lands while the proxy holds bytes the client has not taken depends on the socket buffers'
    // sizes, so several sizes.
    let answer = Buffer.alloc(0);
    const node = createServer({ allowHalfOpen: true }, (socket) => {
      socket.on('error', () => {});
      socket.resume();
      socket.on('end', () => socket.end(answer));
    });
    await new Promise<void>((resolve) => node.listen(0, '127.0.0.1', resolve));
    const { plane, counters } = planeFor({ host: '127.0.0.1', port: (node.address() as AddressInfo).port }, 2000);
    try {
      const { rw } = await plane.listen('127.0.0.1', { rw: 0, ro: 0 }, false);
      for (const size of [2, 4, 6, 8, 12, 16]) {
        answer = Buffer.alloc(size * MB, `pgwarden ${size}`);
        const client = connect({ host: '127.0.0.1', port: rw });
        await new Promise((resolve) => client.once('connect', resolve));
        client.end('request');
        client.pause();
        // The answer fills the sockets' buffers and waits in the proxy while nobody reads: go on once the client
        // has stopped taking bytes (its buffer at the high-water mark, so Node no longer reads the socket).
        await vi.waitFor(
          () => expect({ size, buffered: client.readableLength >= client.readableHighWaterMark }).toEqual({ size, buffered: true }),
          {
            timeout: 10_000,
          },
        );
        const received: Buffer[] = [];
        client.on('data', (chunk: Buffer) => received.push(chunk));
        client.resume();
        await new Promise((resolve) => client.once('close', resolve));
        expect({ size, intact: Buffer.concat(received).equals(answer) }).toEqual({ size, intact: true });
      }
      await eventually(() => (counters.clients() === 0 ? true : undefined), 2000, 'the slots released');
    } finally {
      stopPlane(plane);
      node.close();
    }
  });
});

describe('connect deadline', () => {
  it('answers 08006 when the node does not answer within connectTimeout, and frees the slot', async () => {
    const node = await silentNode();
    const failed: number[] = [];
    const refused: Array<Record<string, unknown> | undefined> = [];
    const { plane, counters } = planeFor({ host: '127.0.0.1', port: node.port }, 300, {
      onBackendFailed: (index) => failed.push(index),
      onRefused: (_listener, _reason, detail) => refused.push(detail),
    });
    try {
      const { rw } = await plane.listen('127.0.0.1', { rw: 0, ro: 0 }, false);
      const client = new pg.Client({ host: '127.0.0.1', port: rw, user: 'x', database: 'x', connectionTimeoutMillis: 5000 });
      client.on('error', () => {});
      const error = (await client.connect().then(
        () => undefined,
        (e: unknown) => e,
      )) as (Error & { code?: string }) | undefined;
      expect(error?.code).toBe('08006');
      // The deadline, not a refusal: the JavaScript path names it so, the addon with the errno it stands for.
      expect(String(refused[0]?.error)).toMatch(/^(connect timeout|ETIMEDOUT)$/);
      expect(failed).toEqual([0]);
      expect(counters.refusals()).toEqual([['rw', 'backend_unreachable', 1]]);
      await eventually(() => (counters.clients() === 0 ? true : undefined), 2000, 'the slot released');
    } finally {
      stopPlane(plane);
      node.close();
    }
  });
});
