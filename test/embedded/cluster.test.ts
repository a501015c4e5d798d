import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blackhole, startTestCluster, type TestCluster } from '../harness/cluster.ts';

async function whoAnswers(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ recovery: boolean; port: number }>(
      'select pg_is_in_recovery() as recovery, inet_server_port() as port',
    );
    return rows[0];
  } finally {
    await client.end();
  }
}

describe('embedded test cluster', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster({ replicas: 2 });
  });
  afterAll(() => cluster?.close());

  it('starts one primary and two streaming replicas on their own ports', async () => {
    const [primary, ...replicas] = cluster.nodes;
    expect(await whoAnswers(cluster.url(primary!))).toEqual({ recovery: false, port: primary!.port });
    for (const replica of replicas) expect(await whoAnswers(cluster.url(replica))).toEqual({ recovery: true, port: replica.port });
  });

  it('streams a write on the primary to every replica', async () => {
    const client = new pg.Client(cluster.url(cluster.primary()));
    await client.connect();
    await client.query('create table if not exists harness_probe (id int)');
    await client.query('insert into harness_probe values (42)');
    await client.end();
    for (const replica of cluster.replicas()) {
      const reader = new pg.Client(cluster.url(replica));
      await reader.connect();
      try {
        const tables = async () =>
          (await reader.query<{ n: number }>("select count(*)::int as n from pg_tables where tablename = 'harness_probe'")).rows[0]?.n;
        await expect.poll(tables, { timeout: 10_000, interval: 50, message: `harness_probe replayed on ${replica.name}` }).toBe(1);
      } finally {
        await reader.end();
      }
    }
  });

  it('refuses a wrong password (scram auth is on)', async () => {
    const client = new pg.Client(cluster.url(cluster.primary(), { password: 'wrong' }));
    await expect(client.connect()).rejects.toMatchObject({ code: '28P01' });
  });

  it('stops, kills and restarts a node', async () => {
    const replica = cluster.node('pg-2');
    await cluster.stop(replica);
    expect(cluster.isRunning(replica), 'the stopped replica is not running').toBe(false);
    await cluster.start(replica);
    expect(await whoAnswers(cluster.url(replica))).toMatchObject({ recovery: true });
    await cluster.kill(replica);
    await expect(whoAnswers(cluster.url(replica))).rejects.toThrow();
    await cluster.start(replica);
    expect(await whoAnswers(cluster.url(replica))).toMatchObject({ recovery: true });
  });

  it('holds black-holed connections open without answering', async () => {
    const hole = await blackhole();
    const client = new pg.Client({ connectionString: hole.url(), connectionTimeoutMillis: 300 });
    const started = Date.now();
    await expect(client.connect()).rejects.toThrow(/timeout/i);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(hole.accepted()).toBe(1);
    await hole.close();
  });
});

describe('embedded test cluster with a password that needs quoting', () => {
  // A quote, a backslash, a space and a `%s`: each broke the standby's primary_conninfo before it was quoted per value.
  const password = "it's a \\ %s pass";
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster({ replicas: 1, password });
  });
  afterAll(() => cluster?.close());

  async function streamingReplicas(): Promise<string[]> {
    const client = new pg.Client(cluster.url(cluster.primary()));
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>(
        "select application_name as name from pg_stat_replication where state = 'streaming' order by 1",
      );
      return rows.map((row) => row.name);
    } finally {
      await client.end();
    }
  }

  it('streams to the replica from the copied configuration, and again after follow() rewrites it with ALTER SYSTEM', async () => {
    await expect.poll(streamingReplicas, { timeout: 20_000 }).toEqual(['pg-1']);
    await cluster.follow(cluster.node('pg-1'), cluster.primary());
    const client = new pg.Client(cluster.url(cluster.node('pg-1')));
    await client.connect();
    try {
      const { rows } = await client.query<{ conninfo: string }>("select current_setting('primary_conninfo') as conninfo");
      expect(rows[0]?.conninfo, 'the password, quoted, in the replica’s primary_conninfo').toContain("password='it\\'s a \\\\ %s pass'");
    } finally {
      await client.end();
    }
    // A restart makes the replica connect with what follow() wrote, not with the walreceiver it already had.
    await cluster.stop('pg-1');
    await cluster.start('pg-1');
    await expect.poll(streamingReplicas, { timeout: 20_000 }).toEqual(['pg-1']);
  });
});
