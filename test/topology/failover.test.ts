/**
 * Failover, split brain and a cluster with every node down, in that order, on a cluster of its own (these
 * scenarios promote and stop nodes). The endpoints go through the real Kubernetes adapter into the fake; the
 * alert lifecycle is kept in memory across runs, as `pgwarden topology --interval` keeps it without a state db.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogPublisher, createMemoryAlertStateStore } from '../../shared/alerts/index.ts';
import { silentLogger } from '../../shared/log/index.ts';
import { type RunTopologyOptions, runTopology, type TopologyResult } from '../../shared/topology/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { type KubernetesFake, startKubernetesFake } from '../harness/fakes/kubernetes.ts';
import { addressesOf, clusterOf, fakeWriter, servedBy, topologySettings, writeRequests } from './helpers.ts';

describe('runTopology through failover and split brain', () => {
  let harness: TestCluster;
  let fake: KubernetesFake;
  let options: RunTopologyOptions;
  let publisher: ReturnType<typeof createLogPublisher>;
  let previous: TopologyResult | undefined;
  let now = new Date('2026-11-20T10:00:00Z');

  const run = async () => {
    now = new Date(now.getTime() + 10_000);
    previous = await runTopology({ ...options, previous });
    return previous;
  };

  beforeAll(async () => {
    [harness, fake] = await Promise.all([startTestCluster({ replicas: 2 }), startKubernetesFake()]);
    publisher = createLogPublisher(silentLogger);
    options = {
      cluster: clusterOf(harness),
      settings: topologySettings({ namespace: 'ha', connectTimeout: '1s' }),
      writer: fakeWriter(fake),
      alertStore: createMemoryAlertStateStore({ clock: () => now }),
      publisher,
      clock: () => now,
    };
  });
  afterAll(async () => {
    await fake?.close();
    await harness?.close();
  });

  it('moves RW to the promoted replica, drops it from RO, and raises topology_changed from the old primary', async () => {
    const healthy = await run();
    expect(healthy.primary?.node).toBe('pg-0');
    expect(servedBy(fake, 'ha', 'postgres-ro')).toEqual(addressesOf(harness, 'pg-1', 'pg-2'));

    await harness.stop('pg-0');
    await harness.promote('pg-1');
    await harness.follow('pg-2', 'pg-1');
    const moved = await run();

    expect(moved.verdict).toBe('ok');
    expect(moved.primary?.node).toBe('pg-1');
    expect(moved.down.map((d) => d.node)).toEqual(['pg-0']);
    expect(servedBy(fake, 'ha', 'postgres-rw')).toEqual(addressesOf(harness, 'pg-1'));
    expect(servedBy(fake, 'ha', 'postgres-ro')).toEqual(addressesOf(harness, 'pg-2'));
    const changed = moved.events.find((e) => e.rule === 'topology_changed');
    expect(changed).toMatchObject({
      severity: 'warning',
      node: 'pg-1',
      labels: { previous_primary: 'pg-0', primary: 'pg-1', timeline: '2' },
    });
    expect(changed?.summary).toContain('pg-0 (now down)');
    expect(changed?.summary).toMatch(/behind at the previous probe/);
    expect(moved.events.find((e) => e.rule === 'node_down')).toMatchObject({ status: 'firing', node: 'pg-0' });

    const steady = await run();
    expect(steady.events).toEqual([]);
    expect(steady.changed).toBe(false);
  });

  it('points RW at the primary on the newer timeline, drops the superseded one from RO, and raises a critical multiple_primaries naming both', async () => {
    // pg-2 follows pg-1 (timeline 2); promoting it while pg-1 keeps running puts it on timeline 3.
    await harness.promote('pg-2');
    const split = await run();

    expect(split.verdict).toBe('multiple_primaries');
    expect(split.primary?.node).toBe('pg-2');
    expect(split.primaries.map((p) => p.node)).toEqual(['pg-1', 'pg-2']);
    expect(split.applied).toBe(true);
    expect(servedBy(fake, 'ha', 'postgres-rw')).toEqual(addressesOf(harness, 'pg-2'));
    // No replica is left: RO falls back to the primary that takes writes, never to the superseded one.
    expect(servedBy(fake, 'ha', 'postgres-ro')).toEqual(addressesOf(harness, 'pg-2'));
    const critical = split.events.find((e) => e.rule === 'multiple_primaries');
    expect(critical).toMatchObject({
      severity: 'critical',
      status: 'firing',
      value: 2,
      labels: { primaries: 'pg-1,pg-2', primary: 'pg-2', superseded: 'pg-1' },
    });
    expect(critical?.summary).toMatch(/pg-1 \(timeline 2, LSN [0-9A-F]+\/[0-9A-F]+\), pg-2 \(timeline 3/);
    expect(critical?.summary).toContain('read-write endpoints point at pg-2, on the newest timeline; superseded: pg-1');
    expect(split.events.find((e) => e.rule === 'topology_changed')).toMatchObject({
      labels: { previous_primary: 'pg-1', primary: 'pg-2' },
    });
  });

  it('writes nothing and raises a critical no_primary when every node is down', async () => {
    const writesBefore = writeRequests(fake);
    await Promise.all([harness.stop('pg-1'), harness.stop('pg-2')]);
    const dark = await run();

    expect(dark.verdict).toBe('no_primary');
    expect(dark.down.map((d) => d.node)).toEqual(['pg-0', 'pg-1', 'pg-2']);
    expect(dark).toMatchObject({ primary: null, desired: null, applied: false, writes: [] });
    expect(writeRequests(fake)).toBe(writesBefore);
    expect(servedBy(fake, 'ha', 'postgres-rw')).toEqual(addressesOf(harness, 'pg-2'));
    const events = dark.events.map((e) => `${e.rule}/${e.status}${e.node ? `/${e.node}` : ''}`).sort();
    expect(events).toEqual(['multiple_primaries/resolved', 'no_primary/firing', 'node_down/firing/pg-1', 'node_down/firing/pg-2']);
    expect(dark.events.find((e) => e.rule === 'no_primary')).toMatchObject({ severity: 'critical' });
    expect(dark.events.find((e) => e.rule === 'no_primary')?.summary).toContain('down: pg-0, pg-1, pg-2');
  });
});
