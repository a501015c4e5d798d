import type { Logger } from '../log/index.ts';
import { silentLogger } from '../log/index.ts';
import type { Cluster } from './types.ts';

/** One versioned schema change. Both directions must be idempotent (`if not exists` / `if exists`). */
export interface Migration {
  version: number;
  name: string;
  up: string;
  down: string;
}

export interface MigrateOptions {
  logger?: Logger;
  /** `down`: how many applied migrations to revert, newest first. Default 1; `'all'` reverts every one. */
  steps?: number | 'all';
}

export interface MigrateResult {
  applied: Array<{ version: number; name: string }>;
  reverted: Array<{ version: number; name: string }>;
  /** Versions recorded as applied after the run. */
  current: number[];
}

// Any constant works; it only has to be the same for every pgwarden process sharing a control database.
const MIGRATION_LOCK = 7_421_013;

/**
 * Applies (`up`) every migration not yet recorded in `pgwarden.schema_migrations`, in version order, each in its
 * own transaction under an advisory lock (two cold-starting functions never apply one twice); or reverts
 * (`down`) the newest `steps` applied ones.
 *
 * @example await migrate(db, MIGRATIONS, 'up')
 */
export async function migrate(
  db: Cluster,
  migrations: readonly Migration[],
  direction: 'up' | 'down',
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const logger = options.logger ?? silentLogger;
  const versions = new Set<number>();
  for (const m of migrations) {
    if (versions.has(m.version)) throw new TypeError(`migrate: two migrations have version ${m.version}`);
    versions.add(m.version);
  }
  const ordered = [...migrations].sort((a, b) => a.version - b.version);
  const result: MigrateResult = { applied: [], reverted: [], current: [] };

  await db.runTx(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query('create schema if not exists pgwarden');
    await tx.query(
      'create table if not exists pgwarden.schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())',
    );
  });

  const appliedVersions = async (tx: { query: Cluster['query'] }) =>
    new Set((await tx.query<{ version: number }>('select version from pgwarden.schema_migrations')).rows.map((r) => r.version));

  if (direction === 'up') {
    for (const migration of ordered) {
      await db.runTx(async (tx) => {
        await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        if ((await appliedVersions(tx)).has(migration.version)) return;
        await tx.query(migration.up);
        await tx.query('insert into pgwarden.schema_migrations (version, name) values ($1, $2)', [migration.version, migration.name]);
        result.applied.push({ version: migration.version, name: migration.name });
        logger.info('migration applied', { version: migration.version, name: migration.name });
      });
    }
  } else {
    const steps = options.steps ?? 1;
    await db.runTx(async (tx) => {
      await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const applied = await appliedVersions(tx);
      const toRevert = ordered.filter((m) => applied.has(m.version)).reverse();
      for (const migration of steps === 'all' ? toRevert : toRevert.slice(0, steps)) {
        await tx.query(migration.down);
        await tx.query('delete from pgwarden.schema_migrations where version = $1', [migration.version]);
        result.reverted.push({ version: migration.version, name: migration.name });
        logger.info('migration reverted', { version: migration.version, name: migration.name });
      }
    });
  }
  result.current = [...(await appliedVersions(db))].sort((a, b) => a - b);
  return result;
}
