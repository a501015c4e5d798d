import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { clientVia, connectError, eventually, getJson, whereAmI } from './helpers.ts';
import { freePorts } from './ports.ts';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 1 });
});

afterAll(async () => {
  await cluster?.close();
});

interface Running {
  child: ChildProcess;
  ports: { rw: number; ro: number; api: number };
  exited: Promise<number | null>;
  stderr: () => string;
}

/** Spawns the real `pgwarden proxy` and waits until its API says it runs. */
async function spawnProxy(extra: string[]): Promise<Running> {
  const [rw, ro, api] = (await freePorts(3)) as [number, number, number];
  const child = spawn(
    process.execPath,
    [
      'bin/pgwarden.ts',
      'proxy',
      ...cluster.nodes.flatMap((node) => ['--url', `${node.name}=${cluster.url(node)}`]),
      '--rw-port',
      String(rw),
      '--ro-port',
      String(ro),
      '--api-port',
      String(api),
      '--listen-host',
      '127.0.0.1',
      '--check-interval',
      '200ms',
      ...extra,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await eventually(
    async () => ((await getJson(api, '/health')).status === 200 ? true : undefined),
    30_000,
    `pgwarden proxy to start: ${stderr}`,
  );
  return { child, ports: { rw, ro, api }, exited, stderr: () => stderr };
}

describe('pgwarden proxy (the real command)', () => {
  it('drains on SIGTERM: stops accepting, lets open clients finish, then exits 0', async () => {
    const proxy = await spawnProxy(['--drain-timeout', '30s']);
    const client = await clientVia(cluster, proxy.ports.rw);
    expect(await whereAmI(client), 'read-write lands on the primary').toMatchObject({ recovery: false });
    proxy.child.kill('SIGTERM');
    await eventually(async () => ((await connectError(cluster, proxy.ports.rw)) ? true : undefined), 10_000, 'the listener to close');
    // The open session still works while draining.
    expect((await client.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
    await client.end();
    expect(await proxy.exited).toBe(0);
    expect(proxy.stderr()).toContain('draining');
    expect(proxy.stderr()).not.toContain(cluster.password);
  });

  it('closes clients still open when the drain timeout ends', async () => {
    const proxy = await spawnProxy(['--drain-timeout', '300ms']);
    const client = await clientVia(cluster, proxy.ports.ro);
    const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
    proxy.child.kill('SIGTERM');
    await ended;
    expect(await proxy.exited).toBe(0);
    expect(proxy.stderr()).toContain('drain timeout');
  });

  it('exits 2 with a readable message for a bad flag value', async () => {
    const child = spawn(
      process.execPath,
      ['bin/pgwarden.ts', 'proxy', '--url', `pg-0=${cluster.url('pg-0')}`, '--check-interval', 'soon'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('--check-interval: invalid duration "soon"');
  });
});
