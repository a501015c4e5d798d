import { alertStateMigration } from '../alerts/state-migration.ts';
import type { Migration } from '../db/index.ts';

/** The delivery statuses, in the order a row usually walks them. */
export const DELIVERY_STATUSES = ['pending', 'sent', 'failed', 'dead'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * Version 2: the delivery ledger. One row per (alert event, channel); the partial index on `next_retry_at`
 * keeps the sweeper's "due failed rows" query an index scan however many sent rows pile up.
 * Both directions are re-runnable (`if not exists` / `if exists`).
 */
export const deliveriesMigration: Migration = {
  version: 2,
  name: 'deliveries',
  up: `
create schema if not exists pgwarden;
create table if not exists pgwarden.deliveries (
  id uuid primary key,
  event_id uuid not null,
  channel text not null,
  status text not null default 'pending',
  retry_count integer not null default 0,
  next_retry_at timestamptz,
  last_error text,
  rule text not null,
  cluster text not null,
  event jsonb not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sent_at timestamptz,
  constraint deliveries_status_check check (status in ('pending', 'sent', 'failed', 'dead')),
  constraint deliveries_retry_count_check check (retry_count >= 0),
  constraint deliveries_event_channel_key unique (event_id, channel)
);
create index if not exists deliveries_due_idx on pgwarden.deliveries (next_retry_at) where status = 'failed';
create index if not exists deliveries_status_created_idx on pgwarden.deliveries (status, created_at);
`,
  down: `
drop table if exists pgwarden.deliveries;
`,
};

/**
 * Version 3: the attempt history. One row per send attempt of a delivery, numbered 1, 2, … over its whole life
 * (a requeue resets `retry_count`, not the history); deleting a delivery deletes its attempts. `error` holds the
 * retry policy's redacted, bounded text. Both directions are re-runnable.
 */
export const deliveryAttemptsMigration: Migration = {
  version: 3,
  name: 'delivery_attempts',
  up: `
create table if not exists pgwarden.delivery_attempts (
  delivery_id uuid not null references pgwarden.deliveries (id) on delete cascade,
  attempt integer not null,
  at timestamptz not null,
  outcome text not null,
  error text,
  http_status integer,
  constraint delivery_attempts_pkey primary key (delivery_id, attempt),
  constraint delivery_attempts_attempt_check check (attempt >= 1),
  constraint delivery_attempts_outcome_check check (outcome in ('sent', 'failed', 'rate_limited', 'dead'))
);
`,
  down: `
drop table if exists pgwarden.delivery_attempts;
`,
};

/** Every migration of the control database, in version order: alert state (v1), delivery ledger (v2), attempts (v3). */
export const MIGRATIONS: Migration[] = [alertStateMigration, deliveriesMigration, deliveryAttemptsMigration];
