import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { createKubeConfig, createLeaderElector, K8sOptionsError, type LeaderElector } from '../../shared/k8s/index.ts';
import { type KubeObject, type KubernetesFake, startKubernetesFake } from '../harness/fakes/kubernetes.ts';

const NS = 'db';
type Lease = KubeObject & {
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; leaseTransitions?: number; acquireTime?: string; renewTime?: string };
};

let fake: KubernetesFake;
let leaseNumber = 0;
let leaseName: string;
let time: number;
const clock = () => new Date(time);
const advance = (ms: number) => {
  time += ms;
};

beforeAll(async () => {
  fake = await startKubernetesFake();
});
afterAll(() => fake.close());
beforeEach(() => {
  leaseNumber++;
  leaseName = `proxy${leaseNumber}-lease`;
  time = Date.parse('2026-11-02T10:00:00.000Z');
});

const lease = () => fake.get('Lease', NS, leaseName) as Lease | undefined;

/** A candidate on the manual clock, with a log of its callbacks as a VIP owner would see them. */
function candidate(
  identity: string,
  overrides: { clock?: () => Date; leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number } = {},
) {
  const events: string[] = [];
  const elector: LeaderElector = createLeaderElector({
    kubeConfig: createKubeConfig({ server: fake.url }),
    name: leaseName,
    namespace: NS,
    identity,
    clock,
    ...overrides,
    onStartedLeading: () => {
      events.push(`started holder=${lease()?.spec.holderIdentity}`);
    },
    onStoppedLeading: () => {
      events.push(`stopped holder=${lease()?.spec.holderIdentity ?? ''}`);
    },
  });
  return { elector, events };
}

describe('Lease leader election', () => {
  it('acquires a missing lease, records holder, duration, transitions and MicroTime stamps', async () => {
    const a = candidate('proxy-a');

    expect(await a.elector.runOnce(), 'proxy-a acquires the missing lease').toBe(true);

    expect(a.elector.isLeader(), 'proxy-a leads').toBe(true);
    expect(a.events).toEqual(['started holder=proxy-a']);
    const spec = lease()!.spec;
    expect(spec).toMatchObject({ holderIdentity: 'proxy-a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(spec.renewTime).toBe('2026-11-02T10:00:00.000000Z');
    expect(spec.acquireTime).toBe('2026-11-02T10:00:00.000000Z');
  });

  it('makes a second candidate wait while the leader renews', async () => {
    const a = candidate('proxy-a');
    const b = candidate('proxy-b');
    await a.elector.runOnce();

    for (let i = 0; i < 15; i++) {
      expect(await b.elector.runOnce(), `proxy-b waits (round ${i})`).toBe(false);
      advance(2_000);
      expect(await a.elector.runOnce(), `proxy-a renews (round ${i})`).toBe(true);
    }

    expect(b.elector.isLeader(), 'proxy-b never led').toBe(false);
    expect(b.elector.leader()).toBe('proxy-a');
    expect(b.events).toEqual([]);
    expect(lease()!.spec).toMatchObject({ holderIdentity: 'proxy-a', leaseTransitions: 0, renewTime: '2026-11-02T10:00:30.000000Z' });
  });

  it('lets a candidate take over once the leader stops renewing for the lease duration, and the old leader steps down', async () => {
    const a = candidate('proxy-a');
    const b = candidate('proxy-b');
    await a.elector.runOnce();
    await b.elector.runOnce();

    advance(14_000);
    expect(await b.elector.runOnce(), 'proxy-b waits: the lease has 1 s left').toBe(false);
    advance(1_001);
    expect(await b.elector.runOnce(), 'proxy-b takes the expired lease').toBe(true);

    expect(lease()!.spec).toMatchObject({ holderIdentity: 'proxy-b', leaseTransitions: 1, acquireTime: '2026-11-02T10:00:15.001000Z' });
    expect(b.events).toEqual(['started holder=proxy-b']);
    // The old leader wakes up long past its renew deadline: it gives up without touching the lease.
    expect(await a.elector.runOnce(), 'the old leader steps down').toBe(false);
    expect(a.events).toEqual(['started holder=proxy-a', 'stopped holder=proxy-b']);
    expect(lease()!.spec.holderIdentity).toBe('proxy-b');
  });

  it('steps down as soon as it sees another holder on the lease, even within its renew deadline', async () => {
    const a = candidate('proxy-a');
    await a.elector.runOnce();
    const current = lease()!;
    fake.set({ ...current, kind: 'Lease', spec: { ...current.spec, holderIdentity: 'intruder', leaseTransitions: 1 } });

    advance(2_000);
    expect(await a.elector.runOnce(), 'proxy-a steps down for the intruder').toBe(false);

    expect(a.elector.isLeader(), 'proxy-a no longer leads').toBe(false);
    expect(a.events).toEqual(['started holder=proxy-a', 'stopped holder=intruder']);
  });

  it('keeps leading through renew failures shorter than the renew deadline, then steps down (VIP first)', async () => {
    const a = candidate('proxy-a');
    await a.elector.runOnce();
    fake.failNext({ method: 'PUT', pathIncludes: leaseName, status: 500, times: 100 });
    fake.failNext({ method: 'GET', pathIncludes: leaseName, status: 503, times: 100 });
    onTestFinished(() => fake.clearInjections());

    for (let elapsed = 2_000; elapsed < 10_000; elapsed += 2_000) {
      advance(2_000);
      expect(await a.elector.runOnce(), `proxy-a still leads ${elapsed} ms into the failures`).toBe(true);
    }
    advance(2_000);
    expect(await a.elector.runOnce(), 'proxy-a steps down at its renew deadline').toBe(false);

    expect(a.events).toEqual(['started holder=proxy-a', 'stopped holder=proxy-a']);
    const writes = fake.requests.filter((r) => r.path.includes(leaseName) && r.method === 'PUT');
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.map((r) => r.status)).toEqual(writes.map(() => 500));
  });

  it('renews after a transient failure and keeps the same acquireTime and transitions', async () => {
    const a = candidate('proxy-a');
    await a.elector.runOnce();
    fake.failNext({ method: 'PUT', pathIncludes: leaseName, status: 500 });

    advance(2_000);
    await a.elector.runOnce();
    advance(2_000);
    expect(await a.elector.runOnce(), 'proxy-a renews after the transient failure').toBe(true);

    expect(lease()!.spec).toMatchObject({
      holderIdentity: 'proxy-a',
      leaseTransitions: 0,
      acquireTime: '2026-11-02T10:00:00.000000Z',
      renewTime: '2026-11-02T10:00:04.000000Z',
    });
    expect(a.events).toEqual(['started holder=proxy-a']);
  });

  it('lets exactly one of two simultaneous candidates win an empty lease', async () => {
    const a = candidate('proxy-a');
    const b = candidate('proxy-b');

    const won = await Promise.all([a.elector.runOnce(), b.elector.runOnce()]);

    expect(won.filter(Boolean)).toHaveLength(1);
    expect(lease()!.spec.holderIdentity).toBe(won[0] ? 'proxy-a' : 'proxy-b');
  });

  it('treats 409 AlreadyExists on create as another candidate having won', async () => {
    const a = candidate('proxy-a');
    fake.beforeNext({ method: 'POST', pathIncludes: '/leases' }, () => {
      fake.set({
        kind: 'Lease',
        metadata: { name: leaseName, namespace: NS },
        spec: { holderIdentity: 'proxy-b', leaseDurationSeconds: 15 },
      });
    });

    expect(await a.elector.runOnce(), 'proxy-a lost to the candidate that created the lease').toBe(false);

    expect(fake.requests.at(-1)).toMatchObject({ method: 'POST', status: 409 });
    expect(a.events).toEqual([]);
    expect(a.elector.leader()).toBeUndefined();
    expect(await a.elector.runOnce(), 'proxy-a still follows').toBe(false);
    expect(a.elector.leader()).toBe('proxy-b');
  });

  it('loses the takeover race when another candidate writes the expired lease first (409 on replace)', async () => {
    const a = candidate('proxy-a');
    const b = candidate('proxy-b');
    await a.elector.runOnce();
    await b.elector.runOnce();
    advance(16_000);
    fake.beforeNext({ method: 'PUT', pathIncludes: leaseName }, () => {
      const current = lease()!;
      fake.set({ ...current, kind: 'Lease', spec: { ...current.spec, holderIdentity: 'proxy-c', leaseTransitions: 1 } });
    });

    expect(await b.elector.runOnce(), 'proxy-b lost the race to proxy-c').toBe(false);

    expect(fake.requests.at(-1)).toMatchObject({ method: 'PUT', status: 409 });
    expect(b.events).toEqual([]);
    expect(lease()!.spec.holderIdentity).toBe('proxy-c');
  });

  it('drops the VIP before releasing on stop, and another candidate takes the released lease at once', async () => {
    const a = candidate('proxy-a');
    const b = candidate('proxy-b');
    await a.elector.runOnce();
    await b.elector.runOnce();

    await a.elector.stop();

    expect(a.elector.isLeader(), 'proxy-a stopped leading').toBe(false);
    // onStoppedLeading saw the lease still held by proxy-a: the address went away before the lease did.
    expect(a.events).toEqual(['started holder=proxy-a', 'stopped holder=proxy-a']);
    expect(lease()!.spec.holderIdentity).toBe('');
    expect(await b.elector.runOnce(), 'proxy-b takes the released lease').toBe(true);
    expect(lease()!.spec).toMatchObject({ holderIdentity: 'proxy-b', leaseTransitions: 1 });
  });

  it('runs on its own timer with start() and gives up on stop()', async () => {
    const a = candidate('proxy-a', { clock: () => new Date(), leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 50 });
    a.elector.start();

    await vi.waitFor(() => expect(a.elector.isLeader(), 'proxy-a leads on its own timer').toBe(true), { timeout: 5_000 });
    await vi.waitFor(
      () => expect(fake.requests.filter((r) => r.path.includes(leaseName) && r.method === 'PUT').length).toBeGreaterThan(1),
      {
        timeout: 5_000,
      },
    );
    await a.elector.stop();

    expect(a.events).toEqual(['started holder=proxy-a', 'stopped holder=proxy-a']);
    expect(lease()!.spec.holderIdentity).toBe('');
  });

  it('refuses timings client-go would refuse, naming the option', () => {
    const make = (timing: { leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number }) => () =>
      createLeaderElector({
        kubeConfig: createKubeConfig({ server: fake.url }),
        name: 'x',
        namespace: NS,
        identity: 'a',
        ...timing,
        onStartedLeading: () => {},
        onStoppedLeading: () => {},
      });
    expect(make({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(K8sOptionsError);
    expect(make({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(/leaseDurationMs/);
    expect(make({ renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).toThrow(/renewDeadlineMs/);
  });
});
