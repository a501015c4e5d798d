import { createHash } from 'node:crypto';

/** One address in a read-write or read-only endpoints object. */
export interface EndpointAddress {
  ip: string;
  port: number;
  /** The pgwarden node name behind the address (written as the endpoint's hostname/targetRef hint). */
  node?: string;
}

/** What one Service's endpoints should hold, with the signature that identifies that content. */
export interface DesiredEndpoints {
  /** The Service name (`postgres-rw`, `postgres-ro`). */
  service: string;
  namespace: string;
  addresses: EndpointAddress[];
  /** `endpointsSignature(addresses)`: written as an annotation, compared on the next run. */
  signature: string;
}

/** What the writer found and did for one object. */
export interface EndpointsApplyResult {
  service: string;
  action: 'created' | 'updated' | 'unchanged';
  /** The object's addresses differed from what pgwarden last wrote (someone else changed them). */
  drift: boolean;
  /** The addresses found before the write (empty when the object was missing). */
  previous: EndpointAddress[];
}

/**
 * The port the topology use case writes through; `shared/k8s` implements it over EndpointSlices or Endpoints.
 * Each object is read and written on its own, so a failure on one heals on the next run.
 */
export interface EndpointsWriter {
  /** The addresses an object holds now, or null when it does not exist. */
  read(service: string, namespace: string): Promise<EndpointAddress[] | null>;
  /** Creates or updates the object when its content differs from `desired`; guarded by resourceVersion. */
  apply(desired: DesiredEndpoints): Promise<EndpointsApplyResult>;
}

/** A stable signature of a set of addresses: order does not matter. */
export function endpointsSignature(addresses: readonly EndpointAddress[]): string {
  const canonical = addresses
    .map((a) => `${a.ip}:${a.port}`)
    .sort()
    .join(',');
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
