/**
 * The Kubernetes calls of leader election: read, create and replace one coordination.k8s.io/v1 Lease, and
 * release it. Each call takes its own timeout and fails with a K8sApiError naming the operation.
 */
import { CoordinationV1Api, type KubeConfig, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import type { Logger } from '../log/index.ts';
import { call, requestOptions, statusOf } from './api.ts';
import { holderOf, releasedSpec } from './leader-election-lease.ts';

/** The Lease operations leader election uses, free of the generated client's call shapes. */
export interface LeaseApi {
  read(timeoutMs: number): Promise<V1Lease>;
  /** Creates the Lease with `spec`; a 409 means another candidate created it first. */
  create(spec: V1LeaseSpec, timeoutMs: number): Promise<V1Lease>;
  /** Replaces the Lease, guarded by `lease.metadata.resourceVersion` (409: another candidate wrote first). */
  replace(lease: V1Lease, timeoutMs: number): Promise<V1Lease>;
  /**
   * Clears the holder when it is still `identity` (retried once on a 409); a failure is logged, not thrown:
   * the Lease then simply expires.
   */
  release(identity: string, now: () => number, timeoutMs: number, logger: Logger): Promise<void>;
}

/** The Lease `namespace/name` through `kubeConfig`'s API server. */
export function createLeaseApi(kubeConfig: KubeConfig, name: string, namespace: string): LeaseApi {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  const what = `Lease ${namespace}/${name}`;
  const read = (timeoutMs: number) => call(`read ${what}`, () => api.readNamespacedLease({ name, namespace }, requestOptions(timeoutMs)));
  const replace = (operation: string, lease: V1Lease, timeoutMs: number) =>
    call(`${operation} ${what}`, () => api.replaceNamespacedLease({ name, namespace, body: lease }, requestOptions(timeoutMs)));

  return {
    read,
    create: (spec, timeoutMs) =>
      call(`create ${what}`, () =>
        api.createNamespacedLease(
          { namespace, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec } },
          requestOptions(timeoutMs),
        ),
      ),
    replace: (lease, timeoutMs) => replace('replace', lease, timeoutMs),
    async release(identity, now, timeoutMs, logger) {
      for (let tries = 0; tries < 2; tries++) {
        try {
          const lease = await read(timeoutMs);
          if (holderOf(lease) !== identity) return;
          await replace('release', { ...lease, spec: releasedSpec(lease.spec, now()) }, timeoutMs);
          logger.info('lease released');
          return;
        } catch (error) {
          if (statusOf(error) === 409) continue;
          // The VIP is gone already; the Lease simply expires after leaseDurationMs.
          logger.warn('cannot release the lease', { error });
          return;
        }
      }
    },
  };
}
