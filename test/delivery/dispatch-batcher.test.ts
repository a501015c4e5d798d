import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAlertEvent, type DeliveryMessage } from '../../shared/alerts/index.ts';
import { createDispatchBatcher } from '../../shared/delivery/dispatch-batcher.ts';
import type { Unpublished } from '../../shared/delivery/ledger.ts';

const message = (cluster: string): DeliveryMessage => ({
  v: 1,
  deliveryId: randomUUID(),
  channel: 'slack',
  event: createAlertEvent({ rule: 'test', severity: 'info', status: 'firing', cluster, client: 'watchdog', summary: `${cluster} test` }),
});

describe('createDispatchBatcher (group commit of queue hand-offs)', () => {
  it('keeps one batch in flight and sends what arrives meanwhile together; each caller hears only of its own refusals', async () => {
    const batches: string[][] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const refusedCluster = 'c';
    const hand = createDispatchBatcher(async (batch): Promise<Unpublished | undefined> => {
      batches.push(batch.map((m) => m.event.cluster));
      if (batches.length === 1) await gate;
      const failed = batch.filter((m) => m.event.cluster === refusedCluster).map((m) => m.deliveryId);
      return failed.length > 0 ? { failed, returned: failed.length, error: new Error('queue refused') } : undefined;
    });
    const a = [message('a')];
    const first = hand(a);
    // Hand-offs of the same tick share the first batch; once it is in flight, the next ones wait for the one after.
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([['a']]);
    // While `a` is in flight, b, c and d arrive: they go as one batch once it settles.
    const rest = [hand([message('b')]), hand([message('c')]), hand([message('d')])];
    release();
    const outcomes = await Promise.all([first, ...rest]);
    expect(batches).toEqual([['a'], ['b', 'c', 'd']]);
    expect(outcomes.map((o) => (o ? o.failed.length : 0))).toEqual([0, 0, 1, 0]);
    expect(String(outcomes[2]?.error)).toBe('Error: queue refused');
  });

  it('rejects every caller of a batch whose publish throws, and the next batch still runs', async () => {
    let calls = 0;
    const hand = createDispatchBatcher(async () => {
      calls++;
      if (calls === 1) throw new Error('ledger unreachable');
      return undefined;
    });
    await expect(hand([message('a')])).rejects.toThrow('ledger unreachable');
    await expect(hand([message('b')])).resolves.toBeUndefined();
  });
});
