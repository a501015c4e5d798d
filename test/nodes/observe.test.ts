/** The one node observation, against real nodes: what every observer (probe, proxy, client) reads. */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { observeNode, readRecovery } from '../../shared/nodes/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';

let cluster: TestCluster;

/** Runs `fn` on a connection to `url`, as `user` when given (a login with no extra role). */
async function on<T>(url: string, fn: (client: pg.Client) => Promise<T>, user?: { name: string; password: string }): Promise<T> {
  const target = new URL(url);
  if (user) {
    target.username = user.name;
    target.password = user.password;
  }
  const client = new pg.Client({ connectionString: target.toString() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 1 });
  await on(cluster.url('pg-0'), (c) => c.query("create role app_reader login password 'app-reader-pw'"));
});

afterAll(async () => {
  await cluster?.close();
});

describe('observeNode', () => {
  const app = { name: 'app_reader', password: 'app-reader-pw' };

  it('reads a primary and a replica, also for a login without any monitoring role', async () => {
    const primary = await on(cluster.url('pg-0'), observeNode, app);
    expect(primary).toMatchObject({
      recovery: false,
      timeline: 1,
      receiveLsn: null,
      replayLsn: null,
      replayPaused: false,
      lagSeconds: null,
    });
    expect(primary.currentLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);

    // The role reaches the replica through replication; wait for it there (setup, not asserted).
    await expect.poll(() => on(cluster.url('pg-1'), observeNode, app).catch(() => null), { timeout: 10_000 }).not.toBeNull();
    const replica = await on(cluster.url('pg-1'), observeNode, app);
    expect(replica).toMatchObject({ recovery: true, timeline: 1, currentLsn: null, replayPaused: false });
    expect(replica.replayLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(replica.lagSeconds).toBeGreaterThanOrEqual(0);
    expect(await on(cluster.url('pg-1'), readRecovery, app)).toBe(true);
  });

  it('reads the new timeline at once after a promotion', async () => {
    await cluster.promote('pg-1');
    expect(await on(cluster.url('pg-1'), observeNode)).toMatchObject({ recovery: false, timeline: 2, replayLsn: null });
    expect(await on(cluster.url('pg-1'), readRecovery)).toBe(false);
  });
});
