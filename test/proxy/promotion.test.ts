/**
 * An out-of-band promotion (someone runs `pg_promote()` on a replica while the old primary keeps running) must be
 * seen between full health checks. The full checks here run once a minute, so only the fast promotion check on
 * the replica's kept connection can move read-write within the test's wait bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../shared/log/index.ts';
import { createProxy } from '../../shared/proxy/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { clientVia, eventually, getJson, landOn, proxyNodes, testSettings } from './helpers.ts';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster({ replicas: 2 });
});

afterAll(async () => {
  await cluster?.close();
});

describe('promotion watch', () => {
  it('routes read-write to a replica promoted out of band and fences the old primary, through the fast check alone', async () => {
    const logger = createMemoryLogger();
    const proxy = createProxy({
      nodes: proxyNodes(cluster),
      settings: testSettings({ checkInterval: 60_000, promotionCheckInterval: 100 }),
      // The quicker full checks of a start-up without a known primary would otherwise run for a moment after start()
      // and could be the ones to see the promotion (seen under load): only the watch may see it here.
      fastCheckIntervalMs: 60_000,
      logger,
    });
    await proxy.start();
    try {
      expect((await landOn(cluster, proxy.ports.rw)).port).toBe(cluster.node('pg-0').port);
      const old = await clientVia(cluster, proxy.ports.rw);
      const oldClosed = new Promise<void>((resolve) => old.once('end', () => resolve()));

      await cluster.promote('pg-1');
      const topology = await eventually(
        async () => {
          const { body } = await getJson(proxy.ports.api, '/topology');
          return body.primary === 'pg-1' ? body : undefined;
        },
        10_000,
        'the proxy to route read-write to pg-1 (full checks are a minute apart)',
      );

      expect(cluster.isRunning('pg-0'), 'the superseded primary still runs').toBe(true);
      expect(topology.splitBrain).toEqual({ kind: 'resolved', primaries: ['pg-0', 'pg-1'], chosen: 'pg-1', timeline: 2 });
      // The watch saw pg-1 either answer `false` or fail its quick query mid-promotion (then its full check ran).
      const watchSaw = logger.records.find((r) => /^(promotion seen by the fast check|fast check failed)/.test(r.message));
      expect(watchSaw?.fields, 'a log line from the promotion watch about pg-1').toMatchObject({ node: 'pg-1' });
      await oldClosed;
      expect(await landOn(cluster, proxy.ports.rw)).toEqual({ port: cluster.node('pg-1').port, recovery: false });
    } finally {
      await proxy.stop();
    }
  });
});
