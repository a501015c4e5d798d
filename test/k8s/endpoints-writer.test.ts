import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEndpointsWriter, createKubeConfig, K8sApiError, K8sConflictError } from '../../shared/k8s/index.ts';
import { type DesiredEndpoints, type EndpointAddress, endpointsSignature } from '../../shared/topology/endpoints.ts';
import { type KubeObject, type KubernetesFake, startKubernetesFake } from '../harness/fakes/kubernetes.ts';

const NS = 'db';

function desired(service: string, addresses: EndpointAddress[]): DesiredEndpoints {
  return { service, namespace: NS, addresses, signature: endpointsSignature(addresses) };
}

type Slice = KubeObject & {
  addressType: string;
  ports: Array<{ name: string; port: number; protocol: string }>;
  endpoints: Array<{ addresses: string[]; conditions: { ready: boolean }; hostname?: string }>;
};
type LegacyEndpoints = KubeObject & {
  subsets: Array<{ addresses: Array<{ ip: string; hostname?: string }>; ports: Array<{ name: string; port: number }> }>;
};

let fake: KubernetesFake;
let service = 0;
/** A fresh Service name per test, so tests share one fake without seeing each other's objects. */
let rw: string;
let ro: string;

beforeAll(async () => {
  fake = await startKubernetesFake({ token: 'fake-token-1234' });
});
afterAll(() => fake.close());
beforeEach(() => {
  service++;
  rw = `pg${service}-rw`;
  ro = `pg${service}-ro`;
});

const writer = (api: 'slices' | 'endpoints', maxConflictRetries?: number) =>
  createEndpointsWriter({ kubeConfig: createKubeConfig({ server: fake.url, token: 'fake-token-1234' }), api, maxConflictRetries });

const writesTo = (name: string) => fake.requests.filter((r) => (r.method === 'PUT' || r.method === 'POST') && r.path.includes(name));

describe('EndpointSlice mode', () => {
  it('creates the slice when it is missing, with the service label, managed-by, IPv4 addresses, port and signature', async () => {
    const addresses = [{ ip: '10.0.0.5', port: 5432, node: 'pg-1' }];
    expect(await writer('slices').read(rw, NS)).toBeNull();

    const result = await writer('slices').apply(desired(rw, addresses));

    expect(result).toEqual({ service: rw, action: 'created', drift: false, previous: [] });
    const slice = fake.get('EndpointSlice', NS, `${rw}-pgwarden-5432`) as Slice;
    expect(slice.metadata.labels).toEqual({ 'kubernetes.io/service-name': rw, 'endpointslice.kubernetes.io/managed-by': 'pgwarden' });
    expect(slice.metadata.annotations).toEqual({ 'pgwarden.io/signature': endpointsSignature(addresses) });
    expect(slice.addressType).toBe('IPv4');
    expect(slice.ports).toEqual([{ name: 'postgres', port: 5432, protocol: 'TCP' }]);
    expect(slice.endpoints).toEqual([
      { addresses: ['10.0.0.5'], conditions: { ready: true, serving: true, terminating: false }, hostname: 'pg-1' },
    ]);
    expect(await writer('slices').read(rw, NS)).toEqual(addresses);
  });

  it('reports unchanged and writes nothing when the signature is the same', async () => {
    const addresses = [
      { ip: '10.0.0.6', port: 5432 },
      { ip: '10.0.0.7', port: 5432 },
    ];
    await writer('slices').apply(desired(ro, addresses));
    const writes = writesTo(ro).length;

    const result = await writer('slices').apply(desired(ro, [...addresses].reverse()));

    expect(result.action).toBe('unchanged');
    expect(result, 'no drift reported').toMatchObject({ drift: false });
    expect(writesTo(ro)).toHaveLength(writes);
  });

  it('updates the slice when the addresses change, guarded by resourceVersion, and returns what it found', async () => {
    await writer('slices').apply(desired(rw, [{ ip: '10.0.0.5', port: 5432 }]));
    const before = fake.get('EndpointSlice', NS, `${rw}-pgwarden-5432`)!;

    const result = await writer('slices').apply(desired(rw, [{ ip: '10.0.0.9', port: 5432 }]));

    expect(result).toEqual({ service: rw, action: 'updated', drift: false, previous: [{ ip: '10.0.0.5', port: 5432 }] });
    const after = fake.get('EndpointSlice', NS, `${rw}-pgwarden-5432`) as Slice;
    expect(after.endpoints.map((e) => e.addresses)).toEqual([['10.0.0.9']]);
    expect(Number(after.metadata.resourceVersion)).toBeGreaterThan(Number(before.metadata.resourceVersion));
    const put = writesTo(rw).at(-1)!;
    expect(put.method).toBe('PUT');
    expect((put.body as KubeObject).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('detects drift when someone else edits the addresses, and puts the verified ones back', async () => {
    await writer('slices').apply(desired(rw, [{ ip: '10.0.0.5', port: 5432 }]));
    const slice = fake.get('EndpointSlice', NS, `${rw}-pgwarden-5432`) as Slice;
    fake.set({ ...slice, kind: 'EndpointSlice', endpoints: [{ addresses: ['10.9.9.9'], conditions: { ready: true } }] });

    const result = await writer('slices').apply(desired(rw, [{ ip: '10.0.0.5', port: 5432 }]));

    expect(result).toEqual({ service: rw, action: 'updated', drift: true, previous: [{ ip: '10.9.9.9', port: 5432 }] });
    expect(await writer('slices').read(rw, NS)).toEqual([{ ip: '10.0.0.5', port: 5432 }]);
    expect(await writer('slices').apply(desired(rw, [{ ip: '10.0.0.5', port: 5432 }])), 'no drift reported').toMatchObject({
      drift: false,
    });
  });

  it('re-reads and retries when a replace gets 409 Conflict', async () => {
    await writer('slices').apply(desired(rw, [{ ip: '10.0.0.5', port: 5432 }]));
    fake.failNext({ method: 'PUT', pathIncludes: rw, status: 409 });

    const result = await writer('slices').apply(desired(rw, [{ ip: '10.0.0.8', port: 5432 }]));

    expect(result.action).toBe('updated');
    expect(
      writesTo(rw)
        .filter((r) => r.method === 'PUT')
        .map((r) => r.status),
    ).toEqual([409, 200]);
    expect(await writer('slices').read(rw, NS)).toEqual([{ ip: '10.0.0.8', port: 5432 }]);
  });

  it('retries against a real concurrent writer: the stale resourceVersion gets 409, the re-read one wins', async () => {
    await writer('slices').apply(desired(rw, [{ ip: '10.0.0.5', port: 5432 }]));
    const name = `${rw}-pgwarden-5432`;
    // Another client edits the slice between our read and our write.
    fake.beforeNext({ method: 'PUT', pathIncludes: name }, () => {
      const current = fake.get('EndpointSlice', NS, name)!;
      fake.set({
        ...current,
        kind: 'EndpointSlice',
        metadata: { ...current.metadata, labels: { ...(current.metadata.labels as object), team: 'dba' } },
      });
    });

    const result = await writer('slices').apply(desired(rw, [{ ip: '10.0.0.8', port: 5432 }]));

    expect(result.action).toBe('updated');
    expect(
      writesTo(name)
        .filter((r) => r.method === 'PUT')
        .map((r) => r.status),
    ).toEqual([409, 200]);
    const slice = fake.get('EndpointSlice', NS, name) as Slice;
    expect(slice.endpoints.map((e) => e.addresses)).toEqual([['10.0.0.8']]);
    // The other writer's label survives our replace.
    expect(slice.metadata.labels).toMatchObject({ team: 'dba' });
  });

  it('gives up with K8sConflictError after maxConflictRetries', async () => {
    await writer('slices').apply(desired(rw, [{ ip: '10.0.0.5', port: 5432 }]));
    fake.failNext({ method: 'PUT', pathIncludes: rw, status: 409, times: 3 });

    const error = await writer('slices', 2)
      .apply(desired(rw, [{ ip: '10.0.0.8', port: 5432 }]))
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(K8sConflictError);
    expect((error as K8sConflictError).attempts).toBe(3);
    expect(await writer('slices').read(rw, NS)).toEqual([{ ip: '10.0.0.5', port: 5432 }]);
  });

  it('keeps RW and RO independent: a failed RW write leaves RO written, and RW heals on the next run', async () => {
    fake.failNext({ method: 'POST', pathIncludes: '/endpointslices', status: 500 });
    const w = writer('slices');

    const rwError = await w.apply(desired(rw, [{ ip: '10.0.0.5', port: 5432 }])).catch((e: unknown) => e);
    const roResult = await w.apply(desired(ro, [{ ip: '10.0.0.6', port: 5432 }]));

    expect(rwError).toBeInstanceOf(K8sApiError);
    expect((rwError as K8sApiError).status).toBe(500);
    expect(roResult.action).toBe('created');
    expect(await w.read(rw, NS)).toBeNull();
    expect((await w.apply(desired(rw, [{ ip: '10.0.0.5', port: 5432 }]))).action).toBe('created');
    expect(await w.read(rw, NS)).toEqual([{ ip: '10.0.0.5', port: 5432 }]);
  });

  it('resolves host names to IPv4 before writing, and the resolved signature stays stable', async () => {
    const result = await writer('slices').apply(desired(rw, [{ ip: 'localhost', port: 5432 }]));

    expect(result.action).toBe('created');
    const slice = fake.get('EndpointSlice', NS, `${rw}-pgwarden-5432`) as Slice;
    expect(slice.endpoints[0]?.addresses).toEqual(['127.0.0.1']);
    expect(slice.metadata.annotations).toEqual({ 'pgwarden.io/signature': endpointsSignature([{ ip: '127.0.0.1', port: 5432 }]) });
    expect((await writer('slices').apply(desired(rw, [{ ip: 'localhost', port: 5432 }]))).action).toBe('unchanged');
  });

  it('writes one slice per port (nodes of one host), and empties a slice whose port is no longer wanted', async () => {
    const both = [
      { ip: '127.0.0.1', port: 15433, node: 'replica-1' },
      { ip: '127.0.0.1', port: 15434, node: 'replica-2' },
    ];
    await writer('slices').apply(desired(ro, both));
    expect(await writer('slices').read(ro, NS)).toEqual(both);

    const result = await writer('slices').apply(desired(ro, [both[0]!]));

    expect(result).toMatchObject({ action: 'updated', drift: false });
    expect(await writer('slices').read(ro, NS)).toEqual([both[0]]);
    expect((fake.get('EndpointSlice', NS, `${ro}-pgwarden-15434`) as Slice).endpoints).toEqual([]);
    expect((await writer('slices').apply(desired(ro, [both[0]!]))).action).toBe('unchanged');
  });

  it('sends the bearer token, and the fake refuses a client without it', async () => {
    await writer('slices').apply(desired(rw, [{ ip: '10.0.0.5', port: 5432 }]));
    expect(fake.requests.at(-1)?.authorization).toBe('Bearer fake-token-1234');

    const anonymous = createEndpointsWriter({ kubeConfig: createKubeConfig({ server: fake.url }) });
    const error = await anonymous.read(rw, NS).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(K8sApiError);
    expect((error as K8sApiError).status).toBe(401);
    expect((error as K8sApiError).message).not.toContain('fake-token-1234');
  });
});

describe('legacy Endpoints mode', () => {
  it('creates the Endpoints named after the Service, one subset per port, with the signature annotation', async () => {
    const addresses = [
      { ip: '10.0.0.6', port: 5432, node: 'pg-2' },
      { ip: '10.0.0.7', port: 5432, node: 'pg-3' },
    ];

    const result = await writer('endpoints').apply(desired(ro, addresses));

    expect(result).toEqual({ service: ro, action: 'created', drift: false, previous: [] });
    const object = fake.get('Endpoints', NS, ro) as LegacyEndpoints;
    expect(object.metadata.annotations).toEqual({ 'pgwarden.io/signature': endpointsSignature(addresses) });
    expect(object.subsets).toEqual([
      {
        addresses: [
          { ip: '10.0.0.6', hostname: 'pg-2' },
          { ip: '10.0.0.7', hostname: 'pg-3' },
        ],
        ports: [{ name: 'postgres', port: 5432, protocol: 'TCP' }],
      },
    ]);
    expect(await writer('endpoints').read(ro, NS)).toEqual(addresses);
  });

  it('is unchanged on the same signature, updates on change, and reports drift after an outside edit', async () => {
    const w = writer('endpoints');
    await w.apply(desired(rw, [{ ip: '10.0.0.5', port: 5432 }]));
    expect((await w.apply(desired(rw, [{ ip: '10.0.0.5', port: 5432 }]))).action).toBe('unchanged');

    const object = fake.get('Endpoints', NS, rw) as LegacyEndpoints;
    fake.set({ ...object, kind: 'Endpoints', subsets: [{ addresses: [{ ip: '10.6.6.6' }], ports: [{ name: 'postgres', port: 5432 }] }] });
    const result = await w.apply(desired(rw, [{ ip: '10.0.0.9', port: 5432 }]));

    expect(result).toEqual({ service: rw, action: 'updated', drift: true, previous: [{ ip: '10.6.6.6', port: 5432 }] });
    expect(await w.read(rw, NS)).toEqual([{ ip: '10.0.0.9', port: 5432 }]);
  });

  it('creates an empty Endpoints object when there is no address to publish', async () => {
    const result = await writer('endpoints').apply(desired(ro, []));

    expect(result.action).toBe('created');
    expect((fake.get('Endpoints', NS, ro) as LegacyEndpoints).subsets).toEqual([]);
    expect(await writer('endpoints').read(ro, NS)).toEqual([]);
  });

  it('re-reads after a 409 on replace and succeeds', async () => {
    await writer('endpoints').apply(desired(rw, [{ ip: '10.0.0.5', port: 5432 }]));
    fake.failNext({ method: 'PUT', pathIncludes: `/endpoints/${rw}`, status: 409 });

    const result = await writer('endpoints').apply(desired(rw, [{ ip: '10.0.0.8', port: 5432 }]));

    expect(result.action).toBe('updated');
    expect(await writer('endpoints').read(rw, NS)).toEqual([{ ip: '10.0.0.8', port: 5432 }]);
  });
});
