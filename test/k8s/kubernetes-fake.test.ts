/**
 * The fake itself, through the real client: other modules' tests rely on it answering like an API server
 * (404/409/415 Status objects, patch content types, label selectors), so those behaviours are pinned here.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, CoreV1Api, DiscoveryV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEndpointsWriter, createKubeConfig, K8sOptionsError } from '../../shared/k8s/index.ts';
import { type KubernetesFake, startKubernetesFake } from '../harness/fakes/kubernetes.ts';

let fake: KubernetesFake;
beforeAll(async () => {
  fake = await startKubernetesFake();
});
afterAll(() => fake.close());

const core = () => createKubeConfig({ server: fake.url }).makeApiClient(CoreV1Api);
const statusOf = async (promise: Promise<unknown>) => {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ApiException);
  const exception = error as ApiException<string>;
  return { code: exception.code, body: JSON.parse(exception.body) as { kind: string; reason: string; message: string } };
};

describe('the Kubernetes API fake', () => {
  it('answers a missing object with a NotFound Status, and a duplicate create with AlreadyExists', async () => {
    const missing = await statusOf(core().readNamespacedService({ name: 'nope', namespace: 'db' }));
    expect(missing).toMatchObject({ code: 404, body: { kind: 'Status', reason: 'NotFound', message: 'services "nope" not found' } });

    const body = { metadata: { name: 'postgres-rw' }, spec: { ports: [{ name: 'postgres', port: 5432 }] } };
    await core().createNamespacedService({ namespace: 'db', body });
    const duplicate = await statusOf(core().createNamespacedService({ namespace: 'db', body }));
    expect(duplicate).toMatchObject({ code: 409, body: { reason: 'AlreadyExists' } });
  });

  it('merge-patches and JSON-patches, bumping resourceVersion, and refuses strategic merge with 415', async () => {
    const api = core();
    const created = await api.createNamespacedEndpoints({ namespace: 'db', body: { metadata: { name: 'legacy', labels: { a: '1' } } } });

    const merged = await api.patchNamespacedEndpoints(
      { name: 'legacy', namespace: 'db', body: { metadata: { labels: { b: '2', a: null } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(merged.metadata?.labels).toEqual({ b: '2' });
    expect(Number(merged.metadata?.resourceVersion)).toBeGreaterThan(Number(created.metadata?.resourceVersion));

    const patched = await api.patchNamespacedEndpoints({
      name: 'legacy',
      namespace: 'db',
      body: [{ op: 'add', path: '/subsets', value: [{ addresses: [{ ip: '10.1.1.1' }], ports: [{ port: 5432 }] }] }],
    });
    expect(patched.subsets?.[0]?.addresses?.[0]?.ip).toBe('10.1.1.1');
    expect(fake.requests.at(-1)?.contentType).toBe('application/json-patch+json');

    const failedTest = await statusOf(
      api.patchNamespacedEndpoints({ name: 'legacy', namespace: 'db', body: [{ op: 'test', path: '/metadata/labels/b', value: 'x' }] }),
    );
    expect(failedTest.code).toBe(422);
    const strategic = await statusOf(
      api.patchNamespacedEndpoints(
        { name: 'legacy', namespace: 'db', body: {} },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      ),
    );
    expect(strategic).toMatchObject({ code: 415, body: { reason: 'UnsupportedMediaType' } });
  });

  it('refuses a replace with a stale resourceVersion (409 Conflict) and invalid addresses (422 Invalid)', async () => {
    const api = createKubeConfig({ server: fake.url }).makeApiClient(DiscoveryV1Api);
    const body = { metadata: { name: 'slice' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'] }] };
    const created = await api.createNamespacedEndpointSlice({ namespace: 'db', body });
    await api.replaceNamespacedEndpointSlice({
      name: 'slice',
      namespace: 'db',
      body: { ...created, endpoints: [{ addresses: ['10.0.0.2'] }] },
    });

    const stale = await statusOf(api.replaceNamespacedEndpointSlice({ name: 'slice', namespace: 'db', body: created }));
    expect(stale).toMatchObject({ code: 409, body: { reason: 'Conflict' } });
    expect(stale.body.message).toContain('the object has been modified');

    const invalid = await statusOf(
      api.createNamespacedEndpointSlice({
        namespace: 'db',
        body: { ...body, metadata: { name: 'bad' }, endpoints: [{ addresses: ['db-1.internal'] }] },
      }),
    );
    expect(invalid).toMatchObject({ code: 422, body: { reason: 'Invalid' } });
  });

  it('lists by equality label selector and deletes', async () => {
    const api = createKubeConfig({ server: fake.url }).makeApiClient(DiscoveryV1Api);
    for (const [name, service] of [
      ['one', 'svc-a'],
      ['two', 'svc-b'],
    ] as const) {
      await api.createNamespacedEndpointSlice({
        namespace: 'sel',
        body: { metadata: { name, labels: { 'kubernetes.io/service-name': service } }, addressType: 'IPv4', endpoints: [] },
      });
    }

    const list = await api.listNamespacedEndpointSlice({ namespace: 'sel', labelSelector: 'kubernetes.io/service-name=svc-b' });
    expect(list.items.map((s) => s.metadata?.name)).toEqual(['two']);

    await api.deleteNamespacedEndpointSlice({ name: 'two', namespace: 'sel' });
    expect(fake.get('EndpointSlice', 'sel', 'two')).toBeUndefined();
    const gone = await statusOf(api.deleteNamespacedEndpointSlice({ name: 'two', namespace: 'sel' }));
    expect(gone.code).toBe(404);
  });
});

describe('createKubeConfig', () => {
  it('loads a kubeconfig file and talks to the cluster it names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgwarden-kubeconfig-'));
    try {
      const file = join(dir, 'config');
      writeFileSync(
        file,
        [
          'apiVersion: v1',
          'kind: Config',
          `clusters: [{ name: fake, cluster: { server: "${fake.url}", insecure-skip-tls-verify: true } }]`,
          'users: [{ name: me, user: { token: file-token-5678 } }]',
          'contexts: [{ name: here, context: { cluster: fake, user: me } }]',
          'current-context: here',
        ].join('\n'),
      );
      const writer = createEndpointsWriter({ kubeConfig: createKubeConfig({ kubeconfig: file }) });

      expect(await writer.read('from-file', 'db')).toBeNull();
      expect(fake.requests.at(-1)?.authorization).toBe('Bearer file-token-5678');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the option when the file is missing or the server is not a URL', () => {
    expect(() => createKubeConfig({ kubeconfig: '/nonexistent/kubeconfig' })).toThrow(K8sOptionsError);
    expect(() => createKubeConfig({ kubeconfig: '/nonexistent/kubeconfig' })).toThrow(/^kubeconfig: file not found/);
    expect(() => createKubeConfig({ server: '127.0.0.1:6443' })).toThrow(/^server: /);
  });
});

describe('createKubeConfig from a kubeconfig document', () => {
  it('loads the document a linked secret holds, and names the option when it cannot', async () => {
    const { createKubeConfig, K8sOptionsError } = await import('../../shared/k8s/index.ts');
    const text = [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{ name: c, cluster: { server: "https://10.0.0.1:6443" } }]',
      'users: [{ name: u, user: { token: abc } }]',
      'contexts: [{ name: x, context: { cluster: c, user: u } }]',
      'current-context: x',
    ].join('\n');
    expect(createKubeConfig({ kubeconfigText: text }).getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
    expect(() => createKubeConfig({ kubeconfigText: 'clusters: [unclosed' })).toThrow(K8sOptionsError);
  });
});
