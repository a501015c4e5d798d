export type { KubeConfigOptions } from './config.ts';
export { createKubeConfig } from './config.ts';
export type { EndpointsWriterOptions } from './endpoints-writer.ts';
export { createEndpointsWriter, SERVICE_NAME_LABEL, SIGNATURE_ANNOTATION, SLICE_MANAGED_BY_LABEL } from './endpoints-writer.ts';
export { K8sAddressError, K8sApiError, K8sConflictError, K8sError, K8sOptionsError } from './errors.ts';
export type { LeaderElector, LeaderElectorOptions } from './leader-election.ts';
export { createLeaderElector } from './leader-election.ts';
export { createEndpointsWriterFactory } from './writers.ts';
