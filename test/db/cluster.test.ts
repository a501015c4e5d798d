import pgDriver from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type Cluster,
  ClusterClosedError,
  createCluster,
  isConstraintViolation,
  isRetryable,
  NoHealthyNodeError,
  pgErrorCode,
  RetryExhaustedError,
  withConnection,
} from '../../shared/db/index.ts';
import { createMemoryLogger } from '../../shared/log/index.ts';
import { blackhole, closedPort, startTestCluster, type TestCluster } from '../harness/cluster.ts';

const WHO = 'select pg_is_in_recovery() as recovery, inet_server_port() as port';
type Who = { recovery: boolean; port: number };

describe('cluster client (fixed roles)', () => {
  let pg: TestCluster;
  const open: Cluster[] = [];
  const make = (options: Partial<Parameters<typeof createCluster>[0]> = {}) => {
    const db = createCluster({
      primary: { name: 'pg-0', url: pg.url('pg-0') },
      replicas: [
        { name: 'pg-1', url: pg.url('pg-1') },
        { name: 'pg-2', url: pg.url('pg-2') },
      ],
      healthCheck: { intervalMs: 0 },
      ...options,
    });
    open.push(db);
    return db;
  };

  beforeAll(async () => {
    pg = await startTestCluster({ replicas: 2 });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((db) => db.close()));
    for (const node of pg.nodes) if (!pg.isRunning(node)) await pg.start(node);
  });
  afterAll(() => pg?.close());

  it('routes query to the primary and readQuery round-robin over the replicas', async () => {
    const db = make();
    const write = await db.query<Who>(WHO);
    expect(write.rows[0]).toEqual({ recovery: false, port: pg.node('pg-0').port });
    const ports = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const { rows } = await db.readQuery<Who>(WHO);
      expect(rows[0], 'a read answered by a replica').toMatchObject({ recovery: true });
      ports.add(rows[0]!.port);
    }
    expect(ports).toEqual(new Set([pg.node('pg-1').port, pg.node('pg-2').port]));
  });

  it('falls back to the primary when every replica is stopped', async () => {
    const db = make();
    await pg.stop('pg-1');
    await pg.stop('pg-2');
    await db.checkHealth();
    expect(
      db
        .stats()
        .filter((s) => s.role === 'replica')
        .map((s) => ({ name: s.name, healthy: s.healthy })),
    ).toEqual([
      { name: 'pg-1', healthy: false },
      { name: 'pg-2', healthy: false },
    ]);
    const { rows } = await db.readQuery<Who>(WHO);
    expect(rows[0]).toEqual({ recovery: false, port: pg.node('pg-0').port });
  });

  it('marks a replica that fails a read unhealthy and answers from another node', async () => {
    const db = make({ retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 } });
    await db.readQuery(WHO); // warm both replica pools
    await db.readQuery(WHO);
    await pg.kill('pg-1');
    for (let i = 0; i < 4; i++) {
      const { rows } = await db.readQuery<Who>(WHO);
      expect(rows[0]!.port).not.toBe(pg.node('pg-1').port);
    }
    expect(db.stats().find((s) => s.name === 'pg-1')).toMatchObject({ healthy: false });
  });

  it('retries a write until the restarted primary answers', async () => {
    const failed: number[] = [];
    const db = make({
      retry: { attempts: 40, baseDelayMs: 50, maxDelayMs: 200 },
      hooks: { onQueryEnd: (c) => c.error !== undefined && c.sql.includes('retry_probe') && failed.push(c.attempt) },
    });
    await db.exec('create table if not exists retry_probe (id int)');
    await db.exec('truncate retry_probe');
    await pg.stop('pg-0');
    const inserted = db.exec('insert into retry_probe values (1)');
    // Restart only once an attempt has failed against the stopped primary, so the write must have been retried.
    await expect.poll(() => failed.length, { timeout: 10_000, interval: 20 }).toBeGreaterThan(0);
    await pg.start('pg-0');
    expect(await inserted).toBe(1);
    expect(failed[0]).toBe(1);
    const { rows } = await db.query<{ id: number }>('select id from retry_probe');
    expect(rows).toEqual([{ id: 1 }]);
  });

  it('does not retry a unique violation and reports it as a constraint violation', async () => {
    const attempts: number[] = [];
    const db = make({ hooks: { onQueryStart: (c) => attempts.push(c.attempt) } });
    await db.exec('create table if not exists uniq_probe (id int primary key)');
    await db.exec('truncate uniq_probe');
    await db.exec('insert into uniq_probe values (1)');
    attempts.length = 0;
    const error = await db.exec('insert into uniq_probe values (1)').catch((e: unknown) => e);
    expect(pgErrorCode(error)).toBe('23505');
    expect(isConstraintViolation(error), 'a unique violation is a constraint violation').toBe(true);
    expect(isRetryable(error), 'a unique violation is not retried').toBe(false);
    expect(attempts).toEqual([1]);
  });

  it('gives up with RetryExhaustedError carrying the attempts and the last cause', async () => {
    const port = await closedPort();
    const db = createCluster({
      primary: `postgres://postgres:x@127.0.0.1:${port}/postgres`,
      retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
      healthCheck: { intervalMs: 0 },
    });
    open.push(db);
    const error = await db.query('select 1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryExhaustedError);
    expect((error as RetryExhaustedError).attempts).toBe(3);
    expect((error as RetryExhaustedError).code).toBe('ECONNREFUSED');
  });

  it('commits a transaction that returns and rolls back one that throws, even a non-Error', async () => {
    const db = make();
    await db.exec('create table if not exists tx_probe (id int)');
    await db.exec('truncate tx_probe');
    const value = await db.runTx(async (tx) => {
      await tx.query('insert into tx_probe values (1)');
      return 'done';
    });
    expect(value).toBe('done');
    await expect(
      db.runTx(async (tx) => {
        await tx.query('insert into tx_probe values (2)');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(
      db.runTx(async (tx) => {
        await tx.query('insert into tx_probe values (3)');
        throw 'a string, not an Error';
      }),
    ).rejects.toBe('a string, not an Error');
    const { rows } = await db.query<{ id: number }>('select id from tx_probe order by id');
    expect(rows.map((r) => r.id)).toEqual([1]);
    // The connection went back to the pool clean: no transaction left open on it.
    const { rows: state } = await db.query<{ open: number }>(
      "select count(*)::int as open from pg_stat_activity where state like 'idle in transaction%' and application_name = 'pgwarden'",
    );
    expect(state[0]?.open).toBe(0);
  });

  it('fails a transaction whose connection dies while its body runs, without an unhandled error', async () => {
    const changes: string[] = [];
    const db = make({ hooks: { onNodeChange: (c) => changes.push(`${c.node}:${c.healthy}`) } });
    const admin = new pgDriver.Client(pg.url('pg-0'));
    await admin.connect();
    try {
      const error = await db
        .runTx(
          async (tx) => {
            const { rows } = await tx.query<{ pid: number }>('select pg_backend_pid() as pid');
            // No query is in flight now: the session's end reaches the client as an 'error' event.
            await admin.query('select pg_terminate_backend($1, 5000)', [rows[0]!.pid]);
            // The client handled that 'error' event when it marks the primary down; only then query again.
            await expect.poll(() => changes, { timeout: 10_000, interval: 20 }).toContain('pg-0:false');
            await tx.query('select 1');
          },
          { retry: false },
        )
        .catch((e: unknown) => e);
      expect(isRetryable(error), `the lost connection's error is retryable: ${String(error)}`).toBe(true);
      expect((await db.query<{ one: number }>('select 1 as one')).rows[0]?.one).toBe(1);
    } finally {
      await admin.end();
    }
  });

  it('health checker marks a killed node down and up again after restart', async () => {
    const changes: string[] = [];
    const db = make({
      // A timeout loose enough that the healthy nodes do not flap on a loaded 2-core machine (seen at 500 ms).
      healthCheck: { intervalMs: 50, timeoutMs: 3000 },
      hooks: { onNodeChange: (c) => changes.push(`${c.node}:${c.healthy}`) },
    });
    await pg.kill('pg-2');
    await expect
      .poll(() => db.stats().find((s) => s.name === 'pg-2')?.healthy, { timeout: 10_000, interval: 50, message: 'pg-2 marked down' })
      .toBe(false);
    await pg.start('pg-2');
    await expect
      .poll(() => db.stats().find((s) => s.name === 'pg-2')?.healthy, { timeout: 10_000, interval: 50, message: 'pg-2 marked up again' })
      .toBe(true);
    expect(changes).toEqual(['pg-2:false', 'pg-2:true']);
  });

  it('logs slow queries at warn level and calls the query hooks', async () => {
    const logger = createMemoryLogger();
    const ends: Array<{ node: string; rowCount?: number | null }> = [];
    const db = make({ logger, slowQueryMs: 50, hooks: { onQueryEnd: (c) => ends.push({ node: c.node, rowCount: c.rowCount }) } });
    await db.query('select pg_sleep(0.1)');
    await db.query('select 1');
    expect(logger.records.filter((r) => r.level === 'warn' && r.message === 'slow query')).toHaveLength(1);
    expect(ends).toEqual([
      { node: 'pg-0', rowCount: 1 },
      { node: 'pg-0', rowCount: 1 },
    ]);
  });

  it('never shows the password in stats, logs or errors', async () => {
    const logger = createMemoryLogger();
    const db = make({ logger, healthCheck: { intervalMs: 0 } });
    await pg.stop('pg-1');
    await db.checkHealth();
    const bad = createCluster({ primary: pg.url('pg-0', { password: 'wrong-secret-pw' }), retry: false, healthCheck: { intervalMs: 0 } });
    open.push(bad);
    const error = await bad.query('select 1').catch((e: unknown) => e);
    const everything = JSON.stringify(db.stats()) + logger.records.map((r) => r.line).join('\n') + String(error);
    expect(everything).not.toContain(pg.password);
    expect(everything).not.toContain('wrong-secret-pw');
    expect(JSON.stringify(db.stats())).toContain('127.0.0.1:');
  });

  it('close is idempotent and later calls fail clearly', async () => {
    const db = make();
    await db.query('select 1');
    await db.close();
    await db.close();
    await expect(db.query('select 1')).rejects.toBeInstanceOf(ClusterClosedError);
    await expect(db.readQuery('select 1')).rejects.toThrow('readQuery called on a cluster client that has already been closed');
  });

  it('times out a query to a black-holed node within the connect timeout', async () => {
    const hole = await blackhole();
    const db = createCluster({ primary: hole.url(), pool: { connectTimeoutMs: 300 }, retry: false, healthCheck: { intervalMs: 0 } });
    open.push(db);
    await expect(db.query('select 1')).rejects.toThrow(/timeout/i);
    expect(hole.accepted()).toBe(1);
    await expect(withConnection(hole.url(), { connectTimeoutMs: 300 }, async () => 'never')).rejects.toThrow(/timeout/i);
    await hole.close();
  });
});

describe('cluster client (discovered roles)', () => {
  let pg: TestCluster;
  beforeAll(async () => {
    pg = await startTestCluster({ replicas: 2 });
  });
  afterAll(() => pg?.close());

  it('finds the primary with pg_is_in_recovery() and follows a promotion without a restart', async () => {
    const db = createCluster({
      nodes: pg.nodes.map((n) => ({ name: n.name, url: pg.url(n) })),
      retry: { attempts: 20, baseDelayMs: 20, maxDelayMs: 200 },
      healthCheck: { intervalMs: 0, timeoutMs: 500 },
    });
    try {
      const before = await db.query<Who>(WHO);
      expect(before.rows[0]).toEqual({ recovery: false, port: pg.node('pg-0').port });
      expect(db.primaryName()).toBe('pg-0');
      const read = await db.readQuery<Who>(WHO);
      expect(read.rows[0], 'a read answered by a replica').toMatchObject({ recovery: true });

      await pg.stop('pg-0');
      await pg.promote('pg-1');
      const after = await db.query<Who>(WHO);
      expect(after.rows[0]).toEqual({ recovery: false, port: pg.node('pg-1').port });
      expect(db.primaryName()).toBe('pg-1');
    } finally {
      await db.close();
    }
  });

  it('writes to the primary on the newer timeline while the superseded one still accepts writes', async () => {
    // After the previous test pg-1 is primary on timeline 2; starting the old primary again makes a second one on 1.
    await pg.start('pg-0');
    const direct = await withConnection(pg.url('pg-0'), {}, async (c) => (await c.query<Who>(WHO)).rows[0]);
    expect(direct, 'the old primary runs as a primary again').toMatchObject({ recovery: false });
    const logger = createMemoryLogger();
    const db = createCluster({ nodes: pg.nodes.map((n) => ({ name: n.name, url: pg.url(n) })), healthCheck: { intervalMs: 0 }, logger });
    try {
      const written = await db.query<Who>(WHO);
      expect(written.rows[0]).toEqual({ recovery: false, port: pg.node('pg-1').port });
      expect(db.primaryName()).toBe('pg-1');
      expect(logger.records.find((r) => r.level === 'error')?.line).toMatch(
        /writes go to pg-1, on the newest timeline.*pg-1 \(timeline 2\), pg-0 \(timeline 1\)/,
      );
    } finally {
      await db.close();
    }
  });

  it('refuses to write, naming them, when two primaries share the newest timeline', async () => {
    const db = createCluster({ nodes: pg.nodes.map((n) => ({ name: n.name, url: pg.url(n) })), healthCheck: { intervalMs: 0 } });
    try {
      expect((await db.query<Who>(WHO)).rows[0]?.port).toBe(pg.node('pg-1').port);
      // pg-2 still follows pg-0 (timeline 1): promoted, it starts timeline 2 too, beside pg-1's timeline 2.
      await pg.promote('pg-2');
      await db.checkHealth();
      const error = await db.query('select 1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NoHealthyNodeError);
      expect((error as Error).message).toBe(
        'more than one node claims to be primary (pg-0, pg-1, pg-2) and their timelines do not tell which is newest; refusing to write',
      );
      expect(db.primaryName()).toBeUndefined();
    } finally {
      await db.close();
    }
  });
});
