/**
 * Two primaries that cannot be ordered: two separately initialised clusters both write on timeline 1, so nothing
 * tells which holds the truth. The RW endpoints must then send writes nowhere (not keep the last target), through
 * both Kubernetes APIs the writer speaks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogPublisher, createMemoryAlertStateStore } from '../../shared/alerts/index.ts';
import { silentLogger } from '../../shared/log/index.ts';
import { runTopology } from '../../shared/topology/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { type KubernetesFake, startKubernetesFake } from '../harness/fakes/kubernetes.ts';
import { addressesOf, clusterOf, fakeWriter, servedBy, topologySettings } from './helpers.ts';

describe('runTopology with two primaries on the same timeline', () => {
  let harness: TestCluster;
  let rogue: TestCluster;
  let fake: KubernetesFake;

  beforeAll(async () => {
    [harness, rogue, fake] = await Promise.all([
      startTestCluster({ replicas: 1 }),
      startTestCluster({ replicas: 0 }),
      startKubernetesFake(),
    ]);
  });
  afterAll(async () => {
    await fake?.close();
    await Promise.all([harness?.close(), rogue?.close()]);
  });

  for (const api of ['slices', 'endpoints'] as const) {
    it(`empties the RW ${api} that pointed at one of them, keeps RO on the replica, and raises a critical multiple_primaries naming both`, async () => {
      const namespace = `split-${api}`;
      const common = {
        settings: topologySettings({ namespace }),
        writer: fakeWriter(fake, api),
        alertStore: createMemoryAlertStateStore(),
        publisher: createLogPublisher(silentLogger),
      };
      const sane = await runTopology({ ...common, cluster: clusterOf(harness) });
      expect(sane.verdict).toBe('ok');
      expect(servedBy(fake, namespace, 'postgres-rw', api)).toEqual(addressesOf(harness, 'pg-0'));

      const split = await runTopology({ ...common, cluster: clusterOf(harness, { extra: [{ name: 'rogue', url: rogue.url('pg-0') }] }) });

      expect(split.verdict).toBe('multiple_primaries');
      expect(split.primary).toBeNull();
      expect(split.primaries.map((p) => p.node)).toEqual(['pg-0', 'rogue']);
      expect(split.desired?.rw).toEqual([]);
      expect(split.writes.find((w) => w.service === 'postgres-rw')).toMatchObject({ action: 'updated' });
      expect(servedBy(fake, namespace, 'postgres-rw', api)).toEqual([]);
      expect(servedBy(fake, namespace, 'postgres-ro', api)).toEqual(addressesOf(harness, 'pg-1'));
      const critical = split.events.find((e) => e.rule === 'multiple_primaries');
      expect(critical).toMatchObject({ severity: 'critical', value: 2, labels: { primaries: 'pg-0,rogue' } });
      expect(critical?.summary).toMatch(/pg-0 \(timeline 1, LSN [^)]+\), rogue \(timeline 1, LSN [^)]+\)/);
      expect(critical?.summary).toContain('their timelines do not tell which is newest: read-write endpoints emptied');
    });
  }
});
