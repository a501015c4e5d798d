/**
 * The endpoints writer's legacy adapter: the core/v1 Endpoints named after the Service (deprecated since 1.33;
 * the mirroring controller copies it into slices for kube-proxy).
 */
import { CoreV1Api, type KubeConfig, type V1Endpoints } from '@kubernetes/client-node';
import type { EndpointAddress } from '../topology/index.ts';
import { call, requestOptions, statusOf } from './api.ts';
import { type EndpointsBackend, groupByPort, hostnameOf, mergeMetadata, SIGNATURE_ANNOTATION } from './endpoints-writer-objects.ts';

const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

/** The adapter over the Service's one Endpoints object, one subset per distinct port. */
export function createEndpointsBackend(kubeConfig: KubeConfig, portName: string, managedBy: string, timeoutMs: number): EndpointsBackend {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const options = () => requestOptions(timeoutMs);
  const existingObjects = new Map<string, V1Endpoints>();

  const body = (namespace: string, name: string, addresses: EndpointAddress[], signature: string, existing?: V1Endpoints): V1Endpoints => ({
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: mergeMetadata(existing?.metadata, { name, namespace, labels: { [MANAGED_BY_LABEL]: managedBy }, signature }),
    subsets: [...groupByPort(addresses)].map(([port, group]) => ({
      addresses: group.map((address) => {
        const hostname = hostnameOf(address.node);
        return { ip: address.ip, ...(hostname ? { hostname } : {}) };
      }),
      ports: [{ name: portName, port, protocol: 'TCP' }],
    })),
  });

  return {
    kind: 'Endpoints',
    async list(service, namespace) {
      let found: V1Endpoints;
      try {
        found = await call(`read Endpoints ${namespace}/${service}`, () =>
          api.readNamespacedEndpoints({ name: service, namespace }, options()),
        );
      } catch (error) {
        if (statusOf(error) === 404) return [];
        throw error;
      }
      existingObjects.set(`${namespace}/${service}`, found);
      const addresses: EndpointAddress[] = [];
      // notReadyAddresses get no traffic and are not counted.
      for (const subset of found.subsets ?? []) {
        for (const address of subset.addresses ?? []) {
          for (const port of subset.ports ?? [])
            addresses.push({ ip: address.ip, port: port.port, ...(address.hostname ? { node: address.hostname } : {}) });
        }
      }
      return [
        {
          name: service,
          resourceVersion: found.metadata?.resourceVersion,
          signature: found.metadata?.annotations?.[SIGNATURE_ANNOTATION],
          addresses,
        },
      ];
    },
    plan(service, addresses) {
      // Endpoints must carry the Service's name; an empty object still says "no endpoints" on purpose.
      return [{ name: service, addresses }];
    },
    async create(_service, namespace, name, addresses, signature) {
      await call(`create Endpoints ${namespace}/${name}`, () =>
        api.createNamespacedEndpoints({ namespace, body: body(namespace, name, addresses, signature) }, options()),
      );
    },
    async replace(_service, namespace, name, resourceVersion, addresses, signature) {
      const next = body(namespace, name, addresses, signature, existingObjects.get(`${namespace}/${name}`));
      next.metadata = { ...next.metadata, resourceVersion };
      await call(`replace Endpoints ${namespace}/${name}`, () =>
        api.replaceNamespacedEndpoints({ name, namespace, body: next }, options()),
      );
    },
  };
}
