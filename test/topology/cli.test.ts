/**
 * `pgwarden topology` as a user runs it: a real process against a real cluster, writing through a kubeconfig
 * that points at the Kubernetes fake. Asserts stdout (one JSON document), stderr and the exit code.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort, startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { type KubernetesFake, startKubernetesFake } from '../harness/fakes/kubernetes.ts';
import { addressesOf, servedBy } from './helpers.ts';

const root = path.resolve(import.meta.dirname, '../..');

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

describe('pgwarden topology', () => {
  let harness: TestCluster;
  let fake: KubernetesFake;
  let dir: string;
  let kubeconfig: string;
  let env: NodeJS.ProcessEnv;

  const pgwarden = (...args: string[]): Promise<Outcome> =>
    new Promise((resolve) => {
      execFile(process.execPath, ['bin/pgwarden.ts', 'topology', ...args], { cwd: root, env, timeout: 60_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
      });
    });

  beforeAll(async () => {
    [harness, fake] = await Promise.all([startTestCluster({ replicas: 1 }), startKubernetesFake()]);
    dir = await mkdtemp(path.join(tmpdir(), 'pgwarden-topology-cli-'));
    kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'fake', cluster: { server: fake.url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'fake', user: {} }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
        'current-context': 'fake',
      }),
    );
    // No Kubernetes configuration unless a test passes one: an empty HOME, no KUBECONFIG, not in a pod.
    env = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('PGWARDEN_') && key !== 'KUBECONFIG' && !key.startsWith('KUBERNETES_')),
    );
    env.HOME = dir;
  });
  afterAll(async () => {
    await fake?.close();
    await harness?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints the issue JSON shape, writes the endpoints and exits 0 when the topology is ok', async () => {
    const { code, stdout, stderr } = await pgwarden(
      '--once',
      '--json',
      '--url',
      `pg-0=${harness.url('pg-0')}`,
      '--url',
      `pg-1=${harness.url('pg-1')}`,
      '--cluster',
      'orders',
      '--kubeconfig',
      kubeconfig,
      '--namespace',
      'cli',
      '--max-lag',
      '1MB',
    );
    expect(stderr).not.toContain(harness.password);
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({
      cluster: 'orders',
      verdict: 'ok',
      primary: { node: 'pg-0', host: '127.0.0.1', port: harness.node('pg-0').port },
      replicas: [{ node: 'pg-1', host: '127.0.0.1', port: harness.node('pg-1').port }],
      down: [],
      unknown: [],
      desired: { rw: [{ ip: '127.0.0.1', port: harness.node('pg-0').port }], ro: [{ ip: '127.0.0.1', port: harness.node('pg-1').port }] },
      changed: true,
      applied: true,
      events: [],
    });
    expect(typeof result.replicas[0].lagBytes).toBe('number');
    expect(typeof result.replicas[0].lagSeconds).toBe('number');
    expect(servedBy(fake, 'cli', 'postgres-rw')).toEqual(addressesOf(harness, 'pg-0'));
    expect(servedBy(fake, 'cli', 'postgres-ro')).toEqual(addressesOf(harness, 'pg-1'));
  });

  it('prints {"clusters":[…]} for a fleet and exits 1 when a cluster has no primary', async () => {
    const port = await closedPort();
    const config = path.join(dir, 'fleet.yaml');
    await writeFile(
      config,
      [
        'clusters:',
        '  - name: orders',
        '    nodes:',
        `      - { name: pg-0, url: "${harness.url('pg-0')}" }`,
        '  - name: billing',
        '    nodes:',
        `      - { name: gone, url: "postgres://postgres:pw-gone-5678@127.0.0.1:${port}/postgres" }`,
        'topology:',
        '  connectTimeout: 1s',
      ].join('\n'),
    );
    const { code, stdout } = await pgwarden('--json', '--config', config, '--kubeconfig', kubeconfig, '--namespace', 'fleet');
    expect(code).toBe(1);
    const fleet = JSON.parse(stdout);
    expect(fleet.clusters.map((c: { cluster: string; verdict: string }) => `${c.cluster}:${c.verdict}`)).toEqual([
      'orders:ok',
      'billing:no_primary',
    ]);
    expect(fleet.clusters[1]).toMatchObject({ primary: null, desired: null, applied: false, down: [{ node: 'gone' }] });
    expect(fleet.clusters[1].events.map((e: { rule: string }) => e.rule).sort()).toEqual(['no_primary', 'node_down']);
    expect(stdout).not.toContain('pw-gone-5678');
  });

  it('without any Kubernetes configuration, probes and alerts, says endpoints are not written, and exits 0', async () => {
    const { code, stdout, stderr } = await pgwarden(
      '--json',
      '--url',
      `pg-0=${harness.url('pg-0')}`,
      '--url',
      `pg-1=${harness.url('pg-1')}`,
    );
    expect(code).toBe(0);
    expect(stderr).toContain('endpoints are not written');
    expect(JSON.parse(stdout)).toMatchObject({ verdict: 'ok', endpoints: 'unmanaged', applied: false, writes: [] });
  });

  it('exits 2 on a bad flag value or a kubeconfig that does not exist', async () => {
    const badApi = await pgwarden('--url', harness.url('pg-0'), '--endpoints-api', 'ingress');
    expect(badApi.code).toBe(2);
    expect(badApi.stderr).toContain('topology.endpointsApi');
    expect(badApi.stdout).toBe('');

    const missing = await pgwarden('--url', harness.url('pg-0'), '--kubeconfig', path.join(dir, 'nope'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('file not found');
  });
});
