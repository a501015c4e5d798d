/**
 * The topology use case on a real cluster (one primary, two streaming replicas) writing through the real
 * Kubernetes adapter into the loopback Kubernetes fake. Scenarios that leave the cluster as they found it;
 * failover, split brain and all-down mutate it and live in failover.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertStateMigration, createLogPublisher } from '../../shared/alerts/index.ts';
import { type Cluster, createCluster, migrate } from '../../shared/db/index.ts';
import { silentLogger } from '../../shared/log/index.ts';
import { runTopology } from '../../shared/topology/index.ts';
import { blackhole, closedPort, startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { type KubernetesFake, startKubernetesFake } from '../harness/fakes/kubernetes.ts';
import { addressesOf, clusterOf, fakeWriter, servedBy, sql, topologySettings, waitForReplay, writeRequests } from './helpers.ts';

describe('runTopology', () => {
  let harness: TestCluster;
  let fake: KubernetesFake;

  beforeAll(async () => {
    [harness, fake] = await Promise.all([startTestCluster({ replicas: 2 }), startKubernetesFake()]);
  });
  afterAll(async () => {
    await fake?.close();
    await harness?.close();
  });

  it('points RW at the primary and RO at both replicas, then leaves them alone while nothing changes', async () => {
    const publisher = createLogPublisher(silentLogger);
    const writer = fakeWriter(fake);
    const options = { cluster: clusterOf(harness), settings: topologySettings({ namespace: 'healthy' }), writer, publisher };

    const first = await runTopology(options);
    expect(first).toMatchObject({
      cluster: 'orders',
      verdict: 'ok',
      primary: { node: 'pg-0', host: '127.0.0.1', port: harness.node('pg-0').port },
      down: [],
      unknown: [],
      endpoints: 'managed',
      changed: true,
      applied: true,
      events: [],
    });
    expect(first.replicas.map((r) => r.node)).toEqual(['pg-1', 'pg-2']);
    for (const replica of first.replicas) {
      expect(replica.lagBytes).toBeGreaterThanOrEqual(0);
      expect(replica.lagBytes).toBeLessThan(16 * 1024 * 1024);
    }
    expect(first.desired?.rw).toEqual([{ ip: '127.0.0.1', port: harness.node('pg-0').port, node: 'pg-0' }]);
    expect(first.writes.map((w) => w.action)).toEqual(['created', 'created']);
    expect(servedBy(fake, 'healthy', 'postgres-rw')).toEqual(addressesOf(harness, 'pg-0'));
    expect(servedBy(fake, 'healthy', 'postgres-ro')).toEqual(addressesOf(harness, 'pg-1', 'pg-2'));

    const writesBefore = writeRequests(fake);
    const second = await runTopology({ ...options, previous: first });
    expect(second).toMatchObject({ verdict: 'ok', changed: false, applied: true, events: [] });
    expect(second.writes.map((w) => w.action)).toEqual(['unchanged', 'unchanged']);
    expect(writeRequests(fake)).toBe(writesBefore);
    expect(publisher.events).toEqual([]);
  });

  it('with no replica, RO falls back to the primary, and holds nothing when the fallback is off', async () => {
    const writer = fakeWriter(fake);
    const publisher = createLogPublisher(silentLogger);
    const cluster = clusterOf(harness, { nodes: ['pg-0'] });

    const fallback = await runTopology({ cluster, settings: topologySettings({ namespace: 'solo' }), writer, publisher });
    expect(fallback.desired?.ro).toEqual([{ ip: '127.0.0.1', port: harness.node('pg-0').port, node: 'pg-0' }]);
    expect(servedBy(fake, 'solo', 'postgres-rw')).toEqual(addressesOf(harness, 'pg-0'));
    expect(servedBy(fake, 'solo', 'postgres-ro')).toEqual(addressesOf(harness, 'pg-0'));

    const strict = await runTopology({
      cluster,
      settings: topologySettings({ namespace: 'solo-strict', roFallbackToPrimary: false }),
      writer,
      publisher,
    });
    expect(strict.verdict).toBe('ok');
    expect(strict.desired?.ro).toEqual([]);
    expect(servedBy(fake, 'solo-strict', 'postgres-rw')).toEqual(addressesOf(harness, 'pg-0'));
    expect(servedBy(fake, 'solo-strict', 'postgres-ro')).toEqual([]);
  });

  it('takes a replica whose replay is paused out of RO, alerts once through the lifecycle, and resolves when it catches up', async () => {
    const stateDb: Cluster = createCluster({ primary: harness.url('pg-0'), healthCheck: { intervalMs: 0 } });
    await migrate(stateDb, [alertStateMigration], 'up');
    let now = new Date('2026-11-20T10:00:00Z');
    const clock = () => now;
    const publisher = createLogPublisher(silentLogger);
    const options = {
      cluster: clusterOf(harness),
      settings: topologySettings({ namespace: 'lag', maxLag: '64kB' }),
      writer: fakeWriter(fake),
      stateDb,
      publisher,
      clock,
    };
    const primaryUrl = harness.url('pg-0');
    try {
      await sql(harness.url('pg-2'), 'select pg_wal_replay_pause()');
      await sql(primaryUrl, "create table lag_fill as select g, repeat('x', 200) as pad from generate_series(1, 5000) g");
      await waitForReplay(primaryUrl, harness.url('pg-1'));

      const lagging = await runTopology(options);
      expect(lagging.verdict).toBe('ok');
      expect(lagging.replicas.find((r) => r.node === 'pg-2')?.lagBytes).toBeGreaterThan(64 * 1024);
      expect(lagging.desired?.ro.map((a) => a.node)).toEqual(['pg-1']);
      expect(servedBy(fake, 'lag', 'postgres-ro')).toEqual(addressesOf(harness, 'pg-1'));
      expect(lagging.events).toHaveLength(1);
      expect(lagging.events[0]).toMatchObject({ rule: 'replica_lag', status: 'firing', node: 'pg-2', threshold: 64 * 1024 });
      expect(lagging.events[0]?.summary).toContain('replay is paused');

      now = new Date(now.getTime() + 10_000);
      const still = await runTopology({ ...options, previous: lagging });
      expect(still.desired?.ro.map((a) => a.node)).toEqual(['pg-1']);
      expect(still.events).toEqual([]);

      await sql(harness.url('pg-2'), 'select pg_wal_replay_resume()');
      await waitForReplay(primaryUrl, harness.url('pg-2'));
      await waitForReplay(primaryUrl, harness.url('pg-1'));
      now = new Date(now.getTime() + 10_000);
      const caughtUp = await runTopology({ ...options, previous: still });
      expect(caughtUp.desired?.ro.map((a) => a.node).sort()).toEqual(['pg-1', 'pg-2']);
      expect(servedBy(fake, 'lag', 'postgres-ro')).toEqual(addressesOf(harness, 'pg-1', 'pg-2'));
      expect(caughtUp.events).toMatchObject([{ rule: 'replica_lag', status: 'resolved', node: 'pg-2' }]);
      expect(publisher.events.map((e) => `${e.rule}/${e.status}/${e.node}`)).toEqual([
        'replica_lag/firing/pg-2',
        'replica_lag/resolved/pg-2',
      ]);
    } finally {
      await sql(harness.url('pg-2'), 'select pg_wal_replay_resume()').catch(() => {});
      await stateDb.close();
    }
  });

  it('still writes RW when the RO write fails, reports the failure, and heals RO on the next run', async () => {
    const stale = (name: string) => ({
      apiVersion: 'v1',
      kind: 'Endpoints' as const,
      metadata: { name, namespace: 'heal' },
      subsets: [{ addresses: [{ ip: '10.9.9.9' }], ports: [{ name: 'postgres', port: 5432, protocol: 'TCP' }] }],
    });
    fake.set(stale('postgres-rw'));
    fake.set(stale('postgres-ro'));
    fake.failNext({
      method: 'PUT',
      pathIncludes: '/namespaces/heal/endpoints/postgres-ro',
      status: 500,
      message: 'etcdserver: request timed out',
    });
    const options = {
      cluster: clusterOf(harness),
      settings: topologySettings({ namespace: 'heal', endpointsApi: 'endpoints' }),
      writer: fakeWriter(fake, 'endpoints'),
      publisher: createLogPublisher(silentLogger),
    };

    const broken = await runTopology(options);
    expect(broken).toMatchObject({ verdict: 'ok', applied: false, changed: true });
    expect(broken.writes[0]).toMatchObject({ service: 'postgres-rw', action: 'updated' });
    expect(broken.writes[1]).toMatchObject({ service: 'postgres-ro', action: 'failed' });
    expect(broken.writes[1]?.error).toContain('500');
    expect(servedBy(fake, 'heal', 'postgres-rw', 'endpoints')).toEqual(addressesOf(harness, 'pg-0'));
    expect(servedBy(fake, 'heal', 'postgres-ro', 'endpoints')).toEqual(['10.9.9.9:5432']);

    const healed = await runTopology({ ...options, previous: broken });
    expect(healed).toMatchObject({ verdict: 'ok', applied: true, changed: true });
    expect(healed.writes.map((w) => w.action)).toEqual(['unchanged', 'updated']);
    expect(servedBy(fake, 'heal', 'postgres-ro', 'endpoints')).toEqual(addressesOf(harness, 'pg-1', 'pg-2'));
  });

  it('corrects an RW object someone else changed and reports endpoints_drift (not a topology change)', async () => {
    const publisher = createLogPublisher(silentLogger);
    const options = {
      cluster: clusterOf(harness),
      settings: topologySettings({ namespace: 'drift' }),
      writer: fakeWriter(fake),
      publisher,
    };
    const first = await runTopology(options);
    expect(first, 'the first plan was applied').toMatchObject({ applied: true });

    const rwSlice = fake
      .objects()
      .find(
        (o) =>
          o.kind === 'EndpointSlice' &&
          o.metadata.namespace === 'drift' &&
          (o.metadata.labels as Record<string, string>)['kubernetes.io/service-name'] === 'postgres-rw',
      );
    expect(rwSlice).toBeDefined();
    fake.set({ ...rwSlice!, kind: 'EndpointSlice', endpoints: [{ addresses: ['10.0.0.99'], conditions: { ready: true } }] });
    expect(servedBy(fake, 'drift', 'postgres-rw')).toEqual([`10.0.0.99:${harness.node('pg-0').port}`]);

    const second = await runTopology({ ...options, previous: first });
    expect(second.writes[0]).toMatchObject({ service: 'postgres-rw', action: 'updated', drift: true });
    expect(servedBy(fake, 'drift', 'postgres-rw')).toEqual(addressesOf(harness, 'pg-0'));
    expect(second.events.map((e) => e.rule)).toEqual(['endpoints_drift']);
    expect(second.events[0]).toMatchObject({ severity: 'warning', namespace: 'drift', labels: { service: 'postgres-rw' } });
    expect(second.events[0]?.summary).toContain(`10.0.0.99:${harness.node('pg-0').port}`);
    expect(publisher.events.map((e) => e.rule)).toEqual(['endpoints_drift']);
  });

  it('marks a black-holed node down after one connect attempt, a closed port down, and a refused login unknown', async () => {
    const hole = await blackhole();
    const refused = await closedPort();
    try {
      const cluster = clusterOf(harness, {
        extra: [
          { name: 'hung', url: hole.url() },
          { name: 'gone', url: `postgres://postgres:pw-gone-1234@127.0.0.1:${refused}/postgres` },
          { name: 'wrong-login', url: harness.url('pg-1', { password: 'not-the-password' }) },
        ],
      });
      const publisher = createLogPublisher(silentLogger);
      const result = await runTopology({
        cluster,
        settings: topologySettings({ namespace: 'faults', connectTimeout: '300ms', retries: 2 }),
        writer: fakeWriter(fake),
        publisher,
      });
      expect(result.verdict).toBe('ok');
      expect(result.down.map((d) => d.node)).toEqual(['hung', 'gone']);
      expect(result.down[0]?.error).toContain('300 ms connect timeout');
      expect(result.down[1]?.error).toContain('ECONNREFUSED');
      expect(result.unknown).toMatchObject([{ node: 'wrong-login' }]);
      expect(result.unknown[0]?.error).toContain('28P01');
      expect(result.unknown[0]?.error).not.toContain('not-the-password');
      // One connect, no retry: an unreachable node costs one timeout.
      expect(hole.accepted()).toBe(1);
      expect(servedBy(fake, 'faults', 'postgres-rw')).toEqual(addressesOf(harness, 'pg-0'));
      expect(publisher.events.map((e) => `${e.rule}/${e.node}`).sort()).toEqual(['node_down/gone', 'node_down/hung']);
    } finally {
      await hole.close();
    }
  });

  it('in a dry run reads the endpoints and says what would change, but writes and publishes nothing', async () => {
    const hole = await blackhole();
    try {
      const publisher = createLogPublisher(silentLogger);
      const writesBefore = writeRequests(fake);
      const result = await runTopology({
        cluster: clusterOf(harness, { extra: [{ name: 'hung', url: hole.url() }] }),
        settings: topologySettings({ namespace: 'dry', connectTimeout: '300ms' }),
        writer: fakeWriter(fake),
        publisher,
        dryRun: true,
      });
      expect(result).toMatchObject({ verdict: 'ok', endpoints: 'dry_run', changed: true, applied: false });
      expect(result.writes.map((w) => w.action)).toEqual(['would_create', 'would_create']);
      expect(result.events).toMatchObject([{ rule: 'node_down', status: 'firing', node: 'hung' }]);
      expect(writeRequests(fake)).toBe(writesBefore);
      expect(servedBy(fake, 'dry', 'postgres-rw')).toEqual([]);
      expect(publisher.events).toEqual([]);
    } finally {
      await hole.close();
    }
  });
});
