/**
 * The Kubernetes adapter of the `EndpointsWriter` port: validates its options, resolves the desired addresses to
 * IPv4 and applies them through the EndpointSlice or legacy Endpoints adapter, re-reading on a lost race.
 */
import { lookup } from 'node:dns/promises';
import { isIPv4, isIPv6 } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { type Logger, silentLogger } from '../log/index.ts';
import { describeError } from '../redact/index.ts';
import {
  type DesiredEndpoints,
  type EndpointAddress,
  type EndpointsApplyResult,
  type EndpointsWriter,
  endpointsSignature,
} from '../topology/index.ts';
import { statusOf } from './api.ts';
import { createEndpointsBackend } from './endpoints-writer-endpoints.ts';
import { union, uniqueAddresses } from './endpoints-writer-objects.ts';
import { createSliceBackend } from './endpoints-writer-slices.ts';
import { K8sAddressError, K8sConflictError, K8sOptionsError } from './errors.ts';

export { SIGNATURE_ANNOTATION } from './endpoints-writer-objects.ts';
export { SERVICE_NAME_LABEL, SLICE_MANAGED_BY_LABEL } from './endpoints-writer-slices.ts';

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

const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

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
