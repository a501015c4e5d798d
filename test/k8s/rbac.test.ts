/**
 * infra/k8s/rbac.yaml grants the least rights: this runs every adapter against the fake and checks each request
 * it made against the Role's rules, so a new call without a matching rule (or a rule nobody needs) is caught here
 * rather than by a 403 in a cluster.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { createEndpointsWriter, createKubeConfig, createLeaderElector } from '../../shared/k8s/index.ts';
import { endpointsSignature } from '../../shared/topology/endpoints.ts';
import { type KubernetesFake, type RecordedRequest, startKubernetesFake } from '../harness/fakes/kubernetes.ts';

interface Rule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}

const NS = 'postgres';
let fake: KubernetesFake;
let rules: Rule[];

beforeAll(async () => {
  fake = await startKubernetesFake();
  const documents = parseAllDocuments(readFileSync(new URL('../../infra/k8s/rbac.yaml', import.meta.url), 'utf8')).map((d) => d.toJS());
  const role = documents.find((d) => d.kind === 'Role');
  expect(role.metadata.namespace).toBe(NS);
  rules = role.rules;
});
afterAll(() => fake.close());

function authorize(request: RecordedRequest): { group: string; resource: string; name: string | undefined; verb: string } {
  const match = request.path.match(/^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/);
  if (!match) throw new Error(`unexpected request path ${request.path}`);
  const [, group = '', namespace, resource = '', name] = match;
  expect(namespace).toBe(NS);
  const verb =
    { GET: name ? 'get' : 'list', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' }[request.method] ?? request.method;
  return { group, resource, name, verb };
}

const allowed = (need: ReturnType<typeof authorize>) =>
  rules.some(
    (rule) =>
      rule.apiGroups.includes(need.group) &&
      rule.resources.includes(need.resource) &&
      rule.verbs.includes(need.verb) &&
      (rule.resourceNames === undefined || (need.name !== undefined && rule.resourceNames.includes(need.name))),
  );

it('allows every request the endpoints writers and the leader elector make, and nothing they never make', async () => {
  const kubeConfig = createKubeConfig({ server: fake.url });
  for (const api of ['slices', 'endpoints'] as const) {
    const writer = createEndpointsWriter({ kubeConfig, api });
    for (const service of ['postgres-rw', 'postgres-ro']) {
      for (const addresses of [[{ ip: '10.0.0.1', port: 5432 }], [{ ip: '10.0.0.2', port: 6432 }]]) {
        await writer.apply({ service, namespace: NS, addresses, signature: endpointsSignature(addresses) });
      }
    }
  }
  let time = Date.parse('2026-11-02T10:00:00Z');
  const elector = createLeaderElector({
    kubeConfig,
    name: 'pgwarden-proxy',
    namespace: NS,
    identity: 'proxy-0',
    clock: () => new Date(time),
    onStartedLeading: () => {},
    onStoppedLeading: () => {},
  });
  await elector.runOnce();
  time += 2_000;
  await elector.runOnce();
  fake.failNext({ method: 'PUT', pathIncludes: '/leases/', status: 409 });
  time += 2_000;
  await elector.runOnce();
  await elector.stop();

  const needed = fake.requests.map(authorize);
  expect(needed.filter((need) => !allowed(need))).toEqual([]);
  const unused = rules.flatMap((rule) =>
    rule.verbs
      .filter((verb) => !needed.some((n) => n.verb === verb && rule.resources.includes(n.resource) && rule.apiGroups.includes(n.group)))
      .map((verb) => `${verb} ${rule.resources.join(',')}`),
  );
  expect(unused).toEqual([]);
});
