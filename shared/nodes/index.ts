export type { PrimaryVerdict, RoleObservation } from './primary.ts';
export { choosePrimary, describeClaims, writeTarget } from './primary.ts';
export type { NodeRole, Queryable } from './role-query.ts';
export { RECOVERY_SQL, ROLE_SQL, readRecovery, readRole, TIMELINE_SQL } from './role-query.ts';
