/**
 * The endpoints writer's EndpointSlice adapter (discovery.k8s.io/v1): one slice per distinct port, labelled so
 * the EndpointSlice and mirroring controllers leave it alone.
 */
import { DiscoveryV1Api, type KubeConfig, type V1EndpointSlice } from '@kubernetes/client-node';
import type { EndpointAddress } from '../topology/index.ts';
import { call, requestOptions } from './api.ts';
import { type EndpointsBackend, groupByPort, hostnameOf, mergeMetadata, SIGNATURE_ANNOTATION } from './endpoints-writer-objects.ts';

/** The label EndpointSlices carry to name their Service (https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/). */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** The label that keeps the EndpointSlice controller and mirroring controller away from pgwarden's slices. */
export const SLICE_MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';

/** The adapter over the Service's EndpointSlices named `<service>-pgwarden-<port>`. */
export function createSliceBackend(kubeConfig: KubeConfig, portName: string, managedBy: string, timeoutMs: number): EndpointsBackend {
  const api = kubeConfig.makeApiClient(DiscoveryV1Api);
  const options = () => requestOptions(timeoutMs);
  const labelsFor = (service: string) => ({ [SERVICE_NAME_LABEL]: service, [SLICE_MANAGED_BY_LABEL]: managedBy });
  // Sliced by port: a slice's ports apply to all of its endpoints, so nodes on different ports (one host, as in
  // local clusters) need one slice each. Production nodes share 5432 and get a single slice.
  const nameFor = (service: string, port: number) => `${service}-pgwarden-${port}`;
  const existingSlices = new Map<string, V1EndpointSlice>();
  const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

  const body = (
    service: string,
    namespace: string,
    name: string,
    port: number | undefined,
    addresses: EndpointAddress[],
    signature: string,
    existing?: V1EndpointSlice,
  ): V1EndpointSlice => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: mergeMetadata(existing?.metadata, { name, namespace, labels: labelsFor(service), signature }),
    addressType: 'IPv4',
    ports: port === undefined ? (existing?.ports ?? []) : [{ name: portName, port, protocol: 'TCP' }],
    endpoints: addresses.map((address) => {
      const hostname = hostnameOf(address.node);
      return { addresses: [address.ip], conditions: { ready: true, serving: true, terminating: false }, ...(hostname ? { hostname } : {}) };
    }),
  });

  return {
    kind: 'EndpointSlice',
    async list(service, namespace) {
      const labelSelector = Object.entries(labelsFor(service))
        .map(([key, value]) => `${key}=${value}`)
        .join(',');
      const list = await call(`list EndpointSlice ${namespace} ${labelSelector}`, () =>
        api.listNamespacedEndpointSlice({ namespace, labelSelector }, options()),
      );
      return list.items.map((slice) => {
        const name = slice.metadata?.name ?? '';
        existingSlices.set(keyOf(namespace, name), slice);
        const addresses: EndpointAddress[] = [];
        for (const endpoint of slice.endpoints ?? []) {
          // A not-ready endpoint gets no traffic: it is not one of the Service's addresses.
          if (endpoint.conditions?.ready === false) continue;
          for (const ip of endpoint.addresses) {
            for (const port of slice.ports ?? []) {
              if (port.port !== undefined)
                addresses.push({ ip, port: port.port, ...(endpoint.hostname ? { node: endpoint.hostname } : {}) });
            }
          }
        }
        return {
          name,
          resourceVersion: slice.metadata?.resourceVersion,
          signature: slice.metadata?.annotations?.[SIGNATURE_ANNOTATION],
          addresses,
        };
      });
    },
    plan(service, addresses) {
      return [...groupByPort(addresses)].map(([port, group]) => ({ name: nameFor(service, port), addresses: group }));
    },
    async create(service, namespace, name, addresses, signature) {
      const port = addresses[0]?.port;
      await call(`create EndpointSlice ${namespace}/${name}`, () =>
        api.createNamespacedEndpointSlice({ namespace, body: body(service, namespace, name, port, addresses, signature) }, options()),
      );
    },
    async replace(service, namespace, name, resourceVersion, addresses, signature) {
      const existing = existingSlices.get(keyOf(namespace, name));
      const next = body(service, namespace, name, addresses[0]?.port, addresses, signature, existing);
      next.metadata = { ...next.metadata, resourceVersion };
      await call(`replace EndpointSlice ${namespace}/${name}`, () =>
        api.replaceNamespacedEndpointSlice({ name, namespace, body: next }, options()),
      );
    },
  };
}
