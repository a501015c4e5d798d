export type { NodeReading, Queryable } from './observe.ts';
export { observeNode, RECOVERY_SQL, readRecovery } from './observe.ts';
export type { PrimaryVerdict, RoleObservation } from './primary.ts';
export { choosePrimary, describeClaims, writeTarget } from './primary.ts';
