import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, createCluster, migrate } from '../../shared/db/index.ts';
import {
  createAlertDelivery,
  DeliveryLedgerMissingError,
  deliveriesMigration,
  deliveryAttemptsMigration,
  MIGRATIONS,
} from '../../shared/delivery/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { scriptedNotifier, testEvent } from './helpers.ts';

describe('control database migrations', () => {
  let pg: TestCluster;
  let db: Cluster;

  beforeAll(async () => {
    pg = await startTestCluster({ replicas: 0 });
    db = createCluster({ primary: pg.url(pg.primary()), healthCheck: { intervalMs: 0 } });
  });
  afterAll(async () => {
    await db?.close();
    await pg?.close();
  });

  const tables = async () =>
    (
      await db.query<{ name: string }>(
        "select table_name as name from information_schema.tables where table_schema = 'pgwarden' order by 1",
      )
    ).rows.map((r) => r.name);
  const columns = async (table: string) =>
    (
      await db.query<{ c: string }>(
        `select column_name || ' ' || data_type || ' ' || is_nullable as c from information_schema.columns
          where table_schema = 'pgwarden' and table_name = $1 order by ordinal_position`,
        [table],
      )
    ).rows.map((r) => r.c);
  const indexes = async () =>
    (
      await db.query<{ name: string; def: string }>(
        "select indexname as name, indexdef as def from pg_indexes where tablename = 'deliveries' order by 1",
      )
    ).rows;

  it('lists alert state (v1), the delivery ledger (v2), then the attempt history (v3)', () => {
    expect(MIGRATIONS.map((m) => [m.version, m.name])).toEqual([
      [1, 'alert_state'],
      [2, 'deliveries'],
      [3, 'delivery_attempts'],
    ]);
  });

  it('goes up, down and up again, and each direction can be re-run', async () => {
    const up = await migrate(db, MIGRATIONS, 'up');
    expect(up.current).toEqual([1, 2, 3]);
    expect(await tables()).toEqual(['alert_state', 'deliveries', 'delivery_attempts', 'schema_migrations']);
    const attemptColumns = await columns('delivery_attempts');
    const before = await indexes();
    expect(before.find((i) => i.name === 'deliveries_due_idx')?.def).toBe(
      "CREATE INDEX deliveries_due_idx ON pgwarden.deliveries USING btree (next_retry_at) WHERE (status = 'failed'::text)",
    );
    expect(before.map((i) => i.name)).toEqual(
      expect.arrayContaining(['deliveries_pkey', 'deliveries_event_channel_key', 'deliveries_due_idx', 'deliveries_status_created_idx']),
    );

    expect(attemptColumns).toEqual([
      'delivery_id uuid NO',
      'attempt integer NO',
      'at timestamp with time zone NO',
      'outcome text NO',
      'error text YES',
      'http_status integer YES',
    ]);

    // The raw SQL itself is idempotent, not only the runner's bookkeeping.
    await db.exec(deliveriesMigration.up);
    await db.exec(deliveryAttemptsMigration.up);
    expect(await indexes()).toEqual(before);
    expect(await columns('delivery_attempts')).toEqual(attemptColumns);
    expect((await migrate(db, MIGRATIONS, 'up')).applied).toEqual([]);

    // Down one step: only the history goes; down again is a no-op for the runner and for the raw SQL.
    expect((await migrate(db, MIGRATIONS, 'down')).reverted.map((m) => m.version)).toEqual([3]);
    expect(await tables()).toEqual(['alert_state', 'deliveries', 'schema_migrations']);
    await db.exec(deliveryAttemptsMigration.down);

    const down = await migrate(db, MIGRATIONS, 'down', { steps: 'all' });
    expect(down.reverted.map((m) => m.version)).toEqual([2, 1]);
    expect(await tables()).toEqual(['schema_migrations']);
    await db.exec(deliveriesMigration.down);
    await db.exec(deliveryAttemptsMigration.down);

    const again = await migrate(db, MIGRATIONS, 'up');
    expect(again.applied.map((m) => m.version)).toEqual([1, 2, 3]);
    expect(await indexes()).toEqual(before);
    expect(await columns('delivery_attempts')).toEqual(attemptColumns);
  });

  it('keeps attempts only for deliveries that exist, numbered from 1, with a known outcome, and drops them with the delivery', async () => {
    await migrate(db, MIGRATIONS, 'up');
    const event = testEvent();
    const id = 'dddddddd-dddd-4ddd-8ddd-dddddddddddd';
    const attempt = (deliveryId: string, number: number, outcome = 'failed') =>
      db.exec(`insert into pgwarden.delivery_attempts (delivery_id, attempt, at, outcome) values ($1, $2, now(), $3)`, [
        deliveryId,
        number,
        outcome,
      ]);
    await expect(attempt(id, 1)).rejects.toMatchObject({ code: '23503' });
    await db.exec(
      `insert into pgwarden.deliveries (id, event_id, channel, status, rule, cluster, event) values ($1, $2, 'slack', 'failed', 'test', 'orders', '{}')`,
      [id, event.id],
    );
    await attempt(id, 1);
    await expect(attempt(id, 1)).rejects.toMatchObject({ code: '23505' });
    await expect(attempt(id, 0)).rejects.toMatchObject({ code: '23514' });
    await expect(attempt(id, 2, 'lost')).rejects.toMatchObject({ code: '23514' });
    await db.exec('delete from pgwarden.deliveries where id = $1', [id]);
    expect((await db.query('select * from pgwarden.delivery_attempts')).rows).toEqual([]);
  });

  it('enforces the ledger constraints: known statuses, one row per (event, channel)', async () => {
    await migrate(db, MIGRATIONS, 'up');
    const event = testEvent();
    const insert = (id: string, status = 'pending') =>
      db.exec(
        `insert into pgwarden.deliveries (id, event_id, channel, status, rule, cluster, event) values ($1, $2, 'slack', $3, 'test', 'orders', '{}')`,
        [id, event.id, status],
      );
    await insert('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa');
    await expect(insert('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb')).rejects.toMatchObject({ code: '23505' });
    await expect(insert('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'lost')).rejects.toMatchObject({ code: '23514' });
    await db.exec('truncate pgwarden.deliveries cascade');
  });

  it('tells the operator to run the migrations when the ledger is missing', async () => {
    await migrate(db, MIGRATIONS, 'down', { steps: 2 });
    const publisher = createAlertDelivery({ db, queue: 'direct', notifiers: { slack: scriptedNotifier('slack') } });
    const failure = publisher.publish([testEvent()]);
    await expect(failure).rejects.toBeInstanceOf(DeliveryLedgerMissingError);
    await expect(failure).rejects.toThrow('run `pgwarden migrate up`');
    await migrate(db, MIGRATIONS, 'up');
  });
});
