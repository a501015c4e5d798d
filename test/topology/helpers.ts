/** Shared setup for the topology tests: configs for harness clusters and reading what the Kubernetes fake holds. */
import pg from 'pg';
import { type ClusterConfig, configSchema, type TopologySettings } from '../../shared/config/index.ts';
import { createEndpointsWriter, createKubeConfig } from '../../shared/k8s/index.ts';
import type { EndpointsWriter } from '../../shared/topology/index.ts';
import type { TestCluster } from '../harness/cluster.ts';
import type { KubernetesFake } from '../harness/fakes/kubernetes.ts';

/** Topology settings as loadConfig would produce them, with a short connect timeout for local nodes. */
export function topologySettings(overrides: Record<string, unknown> = {}): TopologySettings {
  return configSchema.parse({ topology: { connectTimeout: '2s', queryTimeout: '5s', ...overrides } }).topology;
}

/** A cluster config naming the harness nodes (all of them, or those given), plus extra nodes. */
export function clusterOf(
  harness: TestCluster,
  options: { name?: string; nodes?: string[]; extra?: Array<{ name: string; url: string }> } = {},
): ClusterConfig {
  const chosen = options.nodes ?? harness.nodes.map((n) => n.name);
  return configSchema.parse({
    clusters: [
      { name: options.name ?? 'orders', nodes: [...chosen.map((name) => ({ name, url: harness.url(name) })), ...(options.extra ?? [])] },
    ],
  }).clusters[0] as ClusterConfig;
}

/** The real Kubernetes adapter pointed at the fake. */
export function fakeWriter(fake: KubernetesFake, api: 'slices' | 'endpoints' = 'slices'): EndpointsWriter {
  return createEndpointsWriter({ kubeConfig: createKubeConfig({ server: fake.url }), api, portName: 'postgres' });
}

/**
 * What a Service's endpoints hold in the fake, as sorted `ip:port` strings (ready addresses only, as kube-proxy
 * would route), read from the stored EndpointSlices labelled for the Service, or from its core/v1 Endpoints.
 */
export function servedBy(fake: KubernetesFake, namespace: string, service: string, api: 'slices' | 'endpoints' = 'slices'): string[] {
  const out: string[] = [];
  if (api === 'endpoints') {
    const object = fake.get('Endpoints', namespace, service) as
      | { subsets?: Array<{ addresses?: Array<{ ip: string }>; ports?: Array<{ port: number }> }> }
      | undefined;
    for (const subset of object?.subsets ?? []) {
      for (const address of subset.addresses ?? []) for (const port of subset.ports ?? []) out.push(`${address.ip}:${port.port}`);
    }
    return out.sort();
  }
  for (const object of fake.objects()) {
    const labels = (object.metadata.labels ?? {}) as Record<string, string>;
    if (object.kind !== 'EndpointSlice' || object.metadata.namespace !== namespace || labels['kubernetes.io/service-name'] !== service)
      continue;
    const slice = object as unknown as {
      endpoints?: Array<{ addresses: string[]; conditions?: { ready?: boolean } }>;
      ports?: Array<{ port: number }>;
    };
    for (const endpoint of slice.endpoints ?? []) {
      if (endpoint.conditions?.ready === false) continue;
      for (const ip of endpoint.addresses) for (const port of slice.ports ?? []) out.push(`${ip}:${port.port}`);
    }
  }
  return out.sort();
}

/** `127.0.0.1:PORT` of harness nodes, sorted. */
export function addressesOf(harness: TestCluster, ...names: string[]): string[] {
  return names.map((name) => `127.0.0.1:${harness.node(name).port}`).sort();
}

/** Write requests (create, replace, patch, delete) the fake has answered so far. */
export function writeRequests(fake: KubernetesFake): number {
  return fake.requests.filter((r) => r.method !== 'GET').length;
}

/** Runs one SQL statement on a node and returns its rows. */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

/** Waits (setup only, never asserted on) until a replica has replayed the primary's current WAL position. */
export async function waitForReplay(primaryUrl: string, replicaUrl: string): Promise<void> {
  const [target] = await sql<{ lsn: string }>(primaryUrl, 'select pg_current_wal_lsn()::text as lsn');
  for (let i = 0; i < 400; i++) {
    const [row] = await sql<{ done: boolean }>(replicaUrl, `select pg_last_wal_replay_lsn() >= '${target?.lsn}'::pg_lsn as done`);
    if (row?.done) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`replica ${replicaUrl.replace(/:[^:@/]*@/, ':***@')} did not replay up to ${target?.lsn}`);
}
