import type { Migration } from '../db/index.ts';

/**
 * The alert lifecycle table (`pgwarden.alert_state`): one row per dedup key that is pending or firing, or
 * that fired and was resolved (kept for the record; a new breach starts it over). Idempotent both ways.
 */
export const alertStateMigration: Migration = {
  version: 1,
  name: 'alert_state',
  up: `
create schema if not exists pgwarden;
create table if not exists pgwarden.alert_state (
  dedup_key     text primary key,
  rule          text not null,
  cluster       text not null,
  node          text,
  status        text not null check (status in ('pending', 'firing', 'resolved')),
  severity      text not null check (severity in ('info', 'warning', 'critical')),
  pending_since timestamptz not null,
  firing_since  timestamptz,
  last_sent_at  timestamptz,
  resolved_at   timestamptz,
  last_value    double precision,
  threshold     double precision,
  summary       text not null,
  updated_at    timestamptz not null
);
create index if not exists alert_state_cluster_status on pgwarden.alert_state (cluster, status);
`,
  down: 'drop table if exists pgwarden.alert_state;',
};
