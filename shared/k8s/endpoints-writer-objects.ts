/**
 * What the endpoints writer's two adapters (EndpointSlices and legacy Endpoints) share: the object as the writer
 * sees it, the adapter's shape, and the address and metadata helpers both use.
 */
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { EndpointAddress } from '../topology/index.ts';

/** The annotation that holds the signature of the addresses pgwarden wrote. */
export const SIGNATURE_ANNOTATION = 'pgwarden.io/signature';

/** One object as the writer sees it, whatever its API. */
export interface StoredObject {
  name: string;
  resourceVersion: string | undefined;
  /** Our annotation, undefined when pgwarden never wrote the object. */
  signature: string | undefined;
  addresses: EndpointAddress[];
}

/** What one API (slices or legacy endpoints) must do for the shared apply algorithm. */
export interface EndpointsBackend {
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

/** Node names become endpoint hostnames only when they are valid DNS labels; anything else is left out. */
export function hostnameOf(node: string | undefined): string | undefined {
  return node !== undefined && DNS_LABEL.test(node) ? node : undefined;
}

/** The first of each `ip:port`, in order. */
export function uniqueAddresses(addresses: readonly EndpointAddress[]): EndpointAddress[] {
  const seen = new Map<string, EndpointAddress>();
  for (const address of addresses) {
    const key = `${address.ip}:${address.port}`;
    if (!seen.has(key)) seen.set(key, address);
  }
  return [...seen.values()];
}

/** By IP, then port. */
export function sortAddresses(addresses: EndpointAddress[]): EndpointAddress[] {
  return [...addresses].sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip.localeCompare(b.ip)));
}

/** Sorted addresses, grouped by port. */
export function groupByPort(addresses: EndpointAddress[]): Map<number, EndpointAddress[]> {
  const groups = new Map<number, EndpointAddress[]>();
  for (const address of sortAddresses(addresses)) {
    const group = groups.get(address.port) ?? [];
    group.push(address);
    groups.set(address.port, group);
  }
  return groups;
}

/** Our name, namespace, labels and signature over the object's other metadata (kept, as another writer's labels). */
export function mergeMetadata(
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

/** Every object's addresses, each once, sorted. */
export function union(objects: StoredObject[]): EndpointAddress[] {
  return sortAddresses(uniqueAddresses(objects.flatMap((object) => object.addresses)));
}
