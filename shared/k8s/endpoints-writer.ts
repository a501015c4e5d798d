import { lookup } from 'node:dns/promises';
import { isIPv4, isIPv6 } from 'node:net';
import {
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type V1EndpointSlice,
  type V1Endpoints,
  type V1ObjectMeta,
} from '@kubernetes/client-node';
import { type Logger, silentLogger } from '../log/index.ts';
import { describeError } from '../redact/index.ts';
import {
  type DesiredEndpoints,
  type EndpointAddress,
  type EndpointsApplyResult,
  type EndpointsWriter,
  endpointsSignature,
} from '../topology/index.ts';
import { call, requestOptions, statusOf } from './api.ts';
import { K8sAddressError, K8sConflictError, K8sOptionsError } from './errors.ts';

/** The annotation that holds the signature of the addresses pgwarden wrote. */
export const SIGNATURE_ANNOTATION = 'pgwarden.io/signature';
/** The label EndpointSlices carry to name their Service (https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/). */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** The label that keeps the EndpointSlice controller and mirroring controller away from pgwarden's slices. */
export const SLICE_MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

export interface EndpointsWriterOptions {
  /** From `createKubeConfig`. */
  kubeConfig: KubeConfig;
  /** `slices` (discovery.k8s.io/v1 EndpointSlice, default) or `endpoints` (core/v1 Endpoints, deprecated since 1.33). */
  api?: 'slices' | 'endpoints';
  /** The Service port's name the objects carry (default `postgres`, as in infra/k8s/services.yaml). */
  portName?: string;
  /** The `endpointslice.kubernetes.io/managed-by` value (default `pgwarden`). */
  managedBy?: string;
  logger?: Logger;
  /** How many times a write that lost to another writer (409) is re-read and retried (default 3). */
  maxConflictRetries?: number;
  /** Abort one API request after this long (default 10 s). */
  requestTimeoutMs?: number;
}

/** One object as the writer sees it, whatever its API. */
interface StoredObject {
  name: string;
  resourceVersion: string | undefined;
  /** Our annotation, undefined when pgwarden never wrote the object. */
  signature: string | undefined;
  addresses: EndpointAddress[];
}

/** What one API (slices or legacy endpoints) must do for the shared apply algorithm. */
interface Backend {
  kind: string;
  list(service: string, namespace: string): Promise<StoredObject[]>;
  /** The objects that should hold `addresses`, by name. */
  plan(service: string, addresses: EndpointAddress[]): Array<{ name: string; addresses: EndpointAddress[] }>;
  create(service: string, namespace: string, name: string, addresses: EndpointAddress[], signature: string): Promise<void>;
  /** Replaces `name` guarded by `resourceVersion`; `addresses` empty leaves the object without endpoints. */
  replace(
    service: string,
    namespace: string,
    name: string,
    resourceVersion: string | undefined,
    addresses: EndpointAddress[],
    signature: string,
  ): Promise<void>;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** Node names become endpoint hostnames only when they are valid DNS labels; anything else is left out. */
function hostnameOf(node: string | undefined): string | undefined {
  return node !== undefined && DNS_LABEL.test(node) ? node : undefined;
}

/** The first of each `ip:port`, in order. */
function uniqueAddresses(addresses: readonly EndpointAddress[]): EndpointAddress[] {
  const seen = new Map<string, EndpointAddress>();
  for (const address of addresses) {
    const key = `${address.ip}:${address.port}`;
    if (!seen.has(key)) seen.set(key, address);
  }
  return [...seen.values()];
}

function sortAddresses(addresses: EndpointAddress[]): EndpointAddress[] {
  return [...addresses].sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip.localeCompare(b.ip)));
}

function groupByPort(addresses: EndpointAddress[]): Map<number, EndpointAddress[]> {
  const groups = new Map<number, EndpointAddress[]>();
  for (const address of sortAddresses(addresses)) {
    const group = groups.get(address.port) ?? [];
    group.push(address);
    groups.set(address.port, group);
  }
  return groups;
}

/**
 * Turns every address into an IPv4 address: IPs pass through, host names are resolved with `dns.lookup`
 * (family 4, the system resolver, as a pod would). Duplicates after resolution are dropped.
 */
async function resolveAddresses(addresses: readonly EndpointAddress[]): Promise<EndpointAddress[]> {
  const resolved = await Promise.all(
    addresses.map(async (address) => {
      if (!Number.isInteger(address.port) || address.port < 1 || address.port > 65535) {
        throw new K8sAddressError(`${address.ip}:${address.port}`, 'the port must be an integer from 1 to 65535');
      }
      if (isIPv4(address.ip)) return address;
      if (isIPv6(address.ip)) throw new K8sAddressError(address.ip, 'IPv6 is not supported: the objects are written with addressType IPv4');
      try {
        const found = await lookup(address.ip, { family: 4 });
        return { ...address, ip: found.address };
      } catch (error) {
        throw new K8sAddressError(address.ip, `cannot resolve to an IPv4 address: ${describeError(error)}`, { cause: error });
      }
    }),
  );
  return uniqueAddresses(resolved);
}

function mergeMetadata(
  existing: V1ObjectMeta | undefined,
  ours: { name: string; namespace: string; labels: Record<string, string>; signature: string },
): V1ObjectMeta {
  return {
    ...existing,
    name: ours.name,
    namespace: ours.namespace,
    labels: { ...existing?.labels, ...ours.labels },
    annotations: { ...existing?.annotations, [SIGNATURE_ANNOTATION]: ours.signature },
  };
}

function createSliceBackend(kubeConfig: KubeConfig, portName: string, managedBy: string, timeoutMs: number): Backend {
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

function createEndpointsBackend(kubeConfig: KubeConfig, portName: string, managedBy: string, timeoutMs: number): Backend {
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

function union(objects: StoredObject[]): EndpointAddress[] {
  return sortAddresses(uniqueAddresses(objects.flatMap((object) => object.addresses)));
}

/**
 * The Kubernetes adapter of the `EndpointsWriter` port, over EndpointSlices (default) or legacy Endpoints.
 *
 * - **slices**: discovery.k8s.io/v1 EndpointSlices named `<service>-pgwarden-<port>` (one per distinct port;
 *   production nodes share one port, so one slice), labelled `kubernetes.io/service-name: <service>` and
 *   `endpointslice.kubernetes.io/managed-by: <managedBy>`, `addressType: IPv4`, ports
 *   `[{ name: portName, port, protocol: TCP }]`, each endpoint `ready: true` with the node name as `hostname`
 *   when it is a valid DNS label. A slice whose port is no longer wanted is kept with no endpoints (the Role
 *   needs no delete right). Empty desired addresses with no slice yet write nothing.
 * - **endpoints**: the core/v1 Endpoints named `<service>`, one subset per distinct port; labelled
 *   `app.kubernetes.io/managed-by`, so the mirroring controller copies it into slices for kube-proxy.
 *
 * Addresses must be IPs in these objects: host names in `desired.addresses` are resolved with `dns.lookup`
 * (IPv4) before writing, and the `pgwarden.io/signature` annotation is the `endpointsSignature` of the resolved
 * addresses (it equals `desired.signature` whenever the desired addresses are IPs already).
 *
 * `apply` reads the Service's objects; missing → created; actual addresses and annotation both equal to the
 * desired signature → `unchanged`; otherwise replaced, guarded by each object's `resourceVersion` (a 409, or an
 * object that vanished, is re-read and retried up to `maxConflictRetries` times, then K8sConflictError).
 * `drift` is true when an object's annotation differs from the signature of its actual addresses: someone changed
 * it after pgwarden wrote it (objects without the annotation were never written by pgwarden and are adopted).
 * Only ready addresses count. Each call touches one Service, so a failure on RW never blocks RO.
 *
 * @throws K8sAddressError (unresolvable host, IPv6, bad port), K8sApiError (the API failed), K8sConflictError.
 * @example
 * const writer = createEndpointsWriter({ kubeConfig: createKubeConfig({ kubeconfig }), api: 'slices' });
 * await writer.apply({ service: 'postgres-rw', namespace: 'db', addresses: [{ ip: '10.0.0.5', port: 5432, node: 'pg-1' }], signature });
 */
export function createEndpointsWriter(options: EndpointsWriterOptions): EndpointsWriter {
  const api = options.api ?? 'slices';
  const portName = options.portName ?? 'postgres';
  const managedBy = options.managedBy ?? 'pgwarden';
  const maxConflictRetries = options.maxConflictRetries ?? 3;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const logger = options.logger ?? silentLogger;

  if (api !== 'slices' && api !== 'endpoints')
    throw new K8sOptionsError('api', `must be "slices" or "endpoints", got ${JSON.stringify(api)}`);
  if (!PORT_NAME.test(portName)) {
    throw new K8sOptionsError(
      'portName',
      `must be an IANA service name (1-15 lowercase letters, digits, '-', at least one letter), got ${JSON.stringify(portName)}`,
    );
  }
  if (!LABEL_VALUE.test(managedBy))
    throw new K8sOptionsError('managedBy', `must be a valid label value (at most 63 characters), got ${JSON.stringify(managedBy)}`);
  if (!Number.isInteger(maxConflictRetries) || maxConflictRetries < 0) {
    throw new K8sOptionsError('maxConflictRetries', `must be an integer ≥ 0, got ${String(maxConflictRetries)}`);
  }
  if (!(requestTimeoutMs > 0)) throw new K8sOptionsError('requestTimeoutMs', `must be > 0, got ${String(requestTimeoutMs)}`);

  const backend =
    api === 'slices'
      ? createSliceBackend(options.kubeConfig, portName, managedBy, requestTimeoutMs)
      : createEndpointsBackend(options.kubeConfig, portName, managedBy, requestTimeoutMs);

  return {
    async read(service, namespace) {
      const objects = await backend.list(service, namespace);
      return objects.length === 0 ? null : union(objects);
    },

    async apply(desired: DesiredEndpoints): Promise<EndpointsApplyResult> {
      const { service, namespace } = desired;
      const log = logger.child({ service, namespace, kind: backend.kind });
      const addresses = await resolveAddresses(desired.addresses);
      const signature = endpointsSignature(addresses);
      let lastConflict: unknown;

      for (let attempt = 0; attempt <= maxConflictRetries; attempt++) {
        const objects = await backend.list(service, namespace);
        const previous = union(objects);
        const actualSignature = endpointsSignature(previous);
        const drift = objects.some((o) => o.signature !== undefined && o.signature !== actualSignature);
        const planned = backend.plan(service, addresses);
        const result = (action: EndpointsApplyResult['action']): EndpointsApplyResult => ({ service, action, drift, previous });

        if (drift)
          log.warn('endpoints changed by someone else since pgwarden wrote them', { found: previous.map((a) => `${a.ip}:${a.port}`) });
        if (
          (objects.length > 0 || planned.length === 0) &&
          actualSignature === signature &&
          objects.every((o) => o.signature === signature)
        ) {
          return result('unchanged');
        }

        try {
          const byName = new Map(objects.map((o) => [o.name, o]));
          for (const target of planned) {
            const existing = byName.get(target.name);
            if (existing) await backend.replace(service, namespace, target.name, existing.resourceVersion, target.addresses, signature);
            else await backend.create(service, namespace, target.name, target.addresses, signature);
            byName.delete(target.name);
          }
          // Objects of ours that no planned object replaces (a port no longer in use): emptied, not deleted.
          for (const stale of byName.values()) {
            if (stale.addresses.length > 0 || stale.signature !== signature)
              await backend.replace(service, namespace, stale.name, stale.resourceVersion, [], signature);
          }
        } catch (error) {
          const status = statusOf(error);
          // 409: someone else wrote first (Conflict) or created it first (AlreadyExists); 404: deleted meanwhile.
          if (status === 409 || status === 404) {
            lastConflict = error;
            log.warn('endpoints write lost a race; re-reading', { attempt: attempt + 1, status });
            continue;
          }
          throw error;
        }
        const action = objects.length === 0 ? 'created' : 'updated';
        log.info(`endpoints ${action}`, {
          addresses: addresses.map((a) => `${a.ip}:${a.port}`),
          previous: previous.map((a) => `${a.ip}:${a.port}`),
          signature,
        });
        return result(action);
      }
      throw new K8sConflictError(`${backend.kind} ${namespace}/${service}`, maxConflictRetries + 1, { cause: lastConflict });
    },
  };
}
