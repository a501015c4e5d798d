import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type AlertEvent,
  alertStateMigration,
  createAlertEvent,
  createAlertStateStore,
  createMemoryAlertStateStore,
  decideAlert,
  type LifecycleTiming,
  type Severity,
} from '../../shared/alerts/index.ts';
import { type Cluster, createCluster, migrate } from '../../shared/db/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';

const at = (seconds: number) => new Date(Date.UTC(2026, 10, 1, 0, 0, 0) + seconds * 1000);
const HOUR = 3600;

function observe(status: 'firing' | 'resolved', options: { severity?: Severity; value?: number; node?: string } = {}): AlertEvent {
  const value = options.value ?? (status === 'firing' ? 50 : 10);
  return createAlertEvent({
    rule: 'connections_total',
    severity: options.severity ?? 'warning',
    status,
    cluster: 'orders',
    node: options.node ?? 'orders-0',
    client: 'watchdog',
    value,
    threshold: 40,
    summary: `orders/${options.node ?? 'orders-0'}: ${value} connections`,
  });
}

/** Runs observations through the pure decision, carrying the state along like the store does. */
function replay(timing: LifecycleTiming, steps: Array<[number, AlertEvent]>) {
  let state = null as ReturnType<typeof decideAlert>['next'];
  return steps.map(([second, observation]) => {
    const decision = decideAlert(state, observation, at(second), timing);
    state = decision.next;
    return { action: decision.action, sent: decision.event ? `${decision.event.status}/${decision.event.severity}` : null };
  });
}

describe('decideAlert (the lifecycle decision)', () => {
  const immediate = { forMs: 0, repeatIntervalMs: 4 * HOUR * 1000 };

  it('fires on the first breach with for = 0, holds while firing, repeats after the repeat interval, resolves once', () => {
    expect(
      replay(immediate, [
        [0, observe('firing')],
        [30, observe('firing')],
        [4 * HOUR - 1, observe('firing')],
        [4 * HOUR, observe('firing')],
        [4 * HOUR + 30, observe('resolved')],
        [4 * HOUR + 60, observe('resolved')],
      ]),
    ).toEqual([
      { action: 'fire', sent: 'firing/warning' },
      { action: 'hold', sent: null },
      { action: 'hold', sent: null },
      { action: 'repeat', sent: 'firing/warning' },
      { action: 'resolve', sent: 'resolved/warning' },
      { action: 'none', sent: null },
    ]);
  });

  it('re-sends at once when the severity rises above the last one sent, and tells the resolution at that severity', () => {
    expect(
      replay(immediate, [
        [0, observe('firing', { severity: 'info' })],
        [30, observe('firing', { severity: 'critical' })],
        [60, observe('firing', { severity: 'warning' })],
        [90, observe('firing', { severity: 'critical' })],
        [120, observe('resolved')],
      ]),
    ).toEqual([
      { action: 'fire', sent: 'firing/info' },
      { action: 'escalate', sent: 'firing/critical' },
      // Dropping a level and climbing back to what was already sent is not news.
      { action: 'hold', sent: null },
      { action: 'hold', sent: null },
      { action: 'resolve', sent: 'resolved/critical' },
    ]);
  });

  it('waits for the for window before firing, counted from the first breach', () => {
    expect(
      replay({ forMs: 60_000, repeatIntervalMs: HOUR * 1000 }, [
        [0, observe('firing')],
        [30, observe('firing')],
        [60, observe('firing')],
        [90, observe('resolved')],
      ]),
    ).toEqual([
      { action: 'pending', sent: null },
      { action: 'pending', sent: null },
      { action: 'fire', sent: 'firing/warning' },
      { action: 'resolve', sent: 'resolved/warning' },
    ]);
  });

  it('sends nothing when a breach flaps within the for window', () => {
    const steps = replay({ forMs: 60_000, repeatIntervalMs: HOUR * 1000 }, [
      [0, observe('firing')],
      [30, observe('resolved')],
      [45, observe('firing')],
      [90, observe('resolved')],
      [100, observe('firing')],
      [150, observe('resolved')],
    ]);
    expect(steps.map((s) => s.sent)).toEqual([null, null, null, null, null, null]);
    expect(steps.map((s) => s.action)).toEqual(['pending', 'clear', 'pending', 'clear', 'pending', 'clear']);
  });

  it('starts over after a resolution: a new breach fires again', () => {
    expect(
      replay(immediate, [
        [0, observe('firing')],
        [30, observe('resolved')],
        [60, observe('firing')],
      ]).map((s) => s.action),
    ).toEqual(['fire', 'resolve', 'fire']);
  });
});

describe('alert state store (pgwarden.alert_state)', () => {
  let cluster: TestCluster;
  let db: Cluster;
  let other: Cluster;
  let now = at(0);
  const clock = () => now;
  const timing = { forMs: 0, repeatIntervalMs: HOUR * 1000 };

  beforeAll(async () => {
    cluster = await startTestCluster({ replicas: 0 });
    db = createCluster({ primary: cluster.url(cluster.primary()), healthCheck: { intervalMs: 0 } });
    other = createCluster({ primary: cluster.url(cluster.primary()), healthCheck: { intervalMs: 0 } });
    await migrate(db, [alertStateMigration], 'up');
  });
  afterAll(async () => {
    await db?.close();
    await other?.close();
    await cluster?.close();
  });
  beforeEach(async () => {
    now = at(0);
    await db.exec('truncate pgwarden.alert_state');
  });

  it('migrates up idempotently and down to no table', async () => {
    expect((await migrate(db, [alertStateMigration], 'up')).applied).toEqual([]);
    await migrate(db, [alertStateMigration], 'down');
    const gone = await db.query<{ t: string | null }>("select to_regclass('pgwarden.alert_state')::text as t");
    expect(gone.rows[0]?.t).toBeNull();
    expect((await migrate(db, [alertStateMigration], 'up')).applied).toEqual([{ version: 1, name: 'alert_state' }]);
    const back = await db.query<{ t: string | null }>("select to_regclass('pgwarden.alert_state')::text as t");
    expect(back.rows[0]?.t).toBe('pgwarden.alert_state');
  });

  it('fires, holds and resolves across checks, keeping the row for the record', async () => {
    const store = createAlertStateStore(db, { clock });
    const delivered: string[] = [];
    const deliver = async (events: AlertEvent[]) => {
      delivered.push(...events.map((e) => `${e.status}:${e.summary}`));
    };
    await store.apply({ lockKey: 'orders', observations: [observe('firing', { value: 50 })], timing }, deliver);
    now = at(60);
    await store.apply({ lockKey: 'orders', observations: [observe('firing', { value: 55 })], timing }, deliver);
    let [row] = await store.list({ cluster: 'orders' });
    expect(row).toMatchObject({
      key: 'orders/*/connections_total/orders-0',
      status: 'firing',
      severity: 'warning',
      firingSince: at(0),
      lastSentAt: at(0),
      lastValue: 55,
    });
    now = at(120);
    await store.apply({ lockKey: 'orders', observations: [observe('resolved', { value: 12 })], timing }, deliver);
    expect(delivered).toEqual(['firing:orders/orders-0: 50 connections', 'resolved:orders/orders-0: 12 connections']);
    [row] = await store.list();
    expect(row).toMatchObject({ status: 'resolved', resolvedAt: at(120), lastValue: 12 });
  });

  it('leaves keys outside the observed scope alone (a node not checked this round is not resolved)', async () => {
    const store = createAlertStateStore(db, { clock });
    const delivered: AlertEvent[] = [];
    const deliver = async (events: AlertEvent[]) => {
      delivered.push(...events);
    };
    await store.apply(
      { lockKey: 'orders', observations: [observe('firing', { node: 'orders-0' }), observe('firing', { node: 'orders-1' })], timing },
      deliver,
    );
    now = at(30);
    await store.apply({ lockKey: 'orders', observations: [observe('resolved', { node: 'orders-0' })], timing }, deliver);
    expect(delivered.map((e) => `${e.node} ${e.status}`)).toEqual(['orders-0 firing', 'orders-1 firing', 'orders-0 resolved']);
    expect((await store.list()).map((s) => `${s.node} ${s.status}`)).toEqual(['orders-0 resolved', 'orders-1 firing']);
  });

  it('writes nothing when delivery fails, so the next check fires again', async () => {
    const store = createAlertStateStore(db, { clock });
    await expect(
      store.apply({ lockKey: 'orders', observations: [observe('firing')], timing }, async () => {
        throw new Error('queue unavailable');
      }),
    ).rejects.toThrow('queue unavailable');
    expect(await store.list()).toEqual([]);
    const decisions = await store.apply({ lockKey: 'orders', observations: [observe('firing')], timing }, async () => {});
    expect(decisions.map((d) => d.action)).toEqual(['fire']);
  });

  it('sends a breach once when two checks of the same cluster run at the same time', async () => {
    const first = createAlertStateStore(db, { clock });
    const second = createAlertStateStore(other, { clock });
    await other.query('select 1');
    const delivered: AlertEvent[] = [];
    let deliveries = 0;
    // The first delivery waits until the other check is inside apply too: either blocked on the lock (what
    // must happen) or delivering as well (the double send this test exists to catch).
    const otherCheckArrived = async () => {
      for (;;) {
        if (deliveries >= 2) return;
        const { rows } = await db.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like '%pg_advisory_xact_lock%'",
        );
        if ((rows[0]?.n ?? 0) > 0) return;
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const deliver = async (events: AlertEvent[]) => {
      deliveries++;
      delivered.push(...events);
      if (deliveries === 1) await otherCheckArrived();
    };
    const observations = [observe('firing', { node: 'orders-0' }), observe('firing', { node: 'orders-1' })];
    const results = await Promise.all([
      first.apply({ lockKey: 'orders', observations, timing }, deliver),
      second.apply({ lockKey: 'orders', observations, timing }, deliver),
    ]);
    expect(delivered.map((e) => e.node).sort()).toEqual(['orders-0', 'orders-1']);
    expect(
      results
        .flat()
        .map((d) => d.action)
        .sort(),
    ).toEqual(['fire', 'fire', 'hold', 'hold']);
  });
});

describe('alert state kept in memory (no control database)', () => {
  const timing = { forMs: 0, repeatIntervalMs: HOUR * 1000 };

  it('fires once, holds, resolves, and leaves unobserved keys alone, like the database store', async () => {
    let now = at(0);
    const store = createMemoryAlertStateStore({ clock: () => now });
    const delivered: string[] = [];
    const deliver = async (events: AlertEvent[]) => {
      delivered.push(...events.map((e) => `${e.node} ${e.status}`));
    };
    await store.apply(
      { lockKey: 'orders', observations: [observe('firing', { node: 'orders-0' }), observe('firing', { node: 'orders-1' })], timing },
      deliver,
    );
    now = at(60);
    await store.apply({ lockKey: 'orders', observations: [observe('firing', { node: 'orders-0' })], timing }, deliver);
    now = at(120);
    await store.apply({ lockKey: 'orders', observations: [observe('resolved', { node: 'orders-0' })], timing }, deliver);
    expect(delivered).toEqual(['orders-0 firing', 'orders-1 firing', 'orders-0 resolved']);
    expect((await store.list({ cluster: 'orders' })).map((s) => `${s.node} ${s.status}`)).toEqual(['orders-0 resolved', 'orders-1 firing']);
  });

  it('keeps nothing when delivery fails, and runs checks of the same store one after the other', async () => {
    const store = createMemoryAlertStateStore({ clock: () => at(0) });
    await expect(
      store.apply({ lockKey: 'orders', observations: [observe('firing')], timing }, async () => {
        throw new Error('queue unavailable');
      }),
    ).rejects.toThrow('queue unavailable');
    expect(await store.list()).toEqual([]);
    const delivered: AlertEvent[] = [];
    const deliver = async (events: AlertEvent[]) => {
      delivered.push(...events);
    };
    const results = await Promise.all([
      store.apply({ lockKey: 'orders', observations: [observe('firing')], timing }, deliver),
      store.apply({ lockKey: 'orders', observations: [observe('firing')], timing }, deliver),
    ]);
    expect(delivered).toHaveLength(1);
    expect(results.flat().map((d) => d.action)).toEqual(['fire', 'hold']);
  });
});
