import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeConfig, createLeaderElector } from '../../shared/k8s/index.ts';
import { createMemoryLogger } from '../../shared/log/index.ts';
import {
  type AddressManager,
  createCommandRunner,
  createIpAddressManager,
  createProxy,
  type LeaderElectorFactory,
  type ProxyService,
} from '../../shared/proxy/index.ts';
import { closedPort } from '../harness/cluster.ts';
import { type KubernetesFake, startKubernetesFake } from '../harness/fakes/kubernetes.ts';
import { eventually, testSettings } from './helpers.ts';

const VIP = '10.77.0.10/32';
const netns = `pgw-${randomBytes(3).toString('hex')}`;

/** Creates a namespace with a veth pair (two interfaces, one per proxy); the reason it cannot, or null. */
function makeNamespace(): string | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not root: ip netns needs CAP_SYS_ADMIN';
  try {
    execFileSync('ip', ['netns', 'add', netns], { stdio: 'pipe' });
    execFileSync('ip', ['-n', netns, 'link', 'add', 'pgw-a', 'type', 'veth', 'peer', 'name', 'pgw-b'], { stdio: 'pipe' });
    execFileSync('ip', ['-n', netns, 'link', 'set', 'pgw-a', 'up'], { stdio: 'pipe' });
    execFileSync('ip', ['-n', netns, 'link', 'set', 'pgw-b', 'up'], { stdio: 'pipe' });
    return null;
  } catch (error) {
    return `ip netns is not permitted here: ${(error as { stderr?: Buffer }).stderr?.toString().trim() ?? String(error)}`;
  }
}

const skipReason = makeNamespace();

/** The IPv4 addresses an interface in the test namespace carries, as `ip` shows them. */
function addressesOf(device: string): string[] {
  const out = execFileSync('ip', ['-n', netns, '-o', '-4', 'addr', 'show', 'dev', device], { encoding: 'utf8' });
  return [...out.matchAll(/inet (\S+)/g)].map((m) => m[1] as string);
}

afterAll(() => {
  if (skipReason === null) execFileSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
});

describe.skipIf(skipReason !== null)(`floating address in a network namespace${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const manager = (device: string): AddressManager =>
    createIpAddressManager({ address: VIP, interface: device, logger: createMemoryLogger(), run: createCommandRunner({ netns }) });

  it('adds the address with ip addr, is idempotent, and removes it', async () => {
    const vip = manager('pgw-a');
    await vip.add();
    await vip.add();
    expect(addressesOf('pgw-a')).toEqual([VIP]);
    expect(await vip.held(), 'the address is held').toBe(true);
    await vip.remove();
    await vip.remove();
    expect(addressesOf('pgw-a')).toEqual([]);
    expect(await vip.held(), 'the address is gone').toBe(false);
  });

  describe('lease takeover', () => {
    let fake: KubernetesFake;
    let deadPort: number;
    const proxies: ProxyService[] = [];

    beforeAll(async () => {
      fake = await startKubernetesFake();
      deadPort = await closedPort();
    });

    afterAll(async () => {
      await Promise.all(proxies.map((p) => p.stop()));
      await fake?.close();
    });

    /** A proxy whose elector runs on a manual clock; the test plays the timer by calling runOnce. */
    const candidate = (identity: string, device: string) => {
      let now = Date.parse('2026-11-01T00:00:00Z');
      let elector: ReturnType<typeof createLeaderElector> | undefined;
      const factory: LeaderElectorFactory = (handlers) => {
        elector = createLeaderElector({
          kubeConfig: createKubeConfig({ server: fake.url }),
          name: 'pgwarden-proxy',
          namespace: 'db',
          identity,
          clock: () => new Date(now),
          random: () => 0,
          ...handlers,
        });
        return {
          start() {},
          stop: () => (elector as ReturnType<typeof createLeaderElector>).stop(),
          isLeader: () => elector?.isLeader() ?? false,
        };
      };
      const proxy = createProxy({
        nodes: [{ name: 'pg-0', url: `postgres://monitor:monitor-pass@127.0.0.1:${deadPort}/postgres` }],
        settings: testSettings(),
        logger: createMemoryLogger(),
        elector: factory,
        addresses: manager(device),
      });
      proxies.push(proxy);
      return {
        proxy,
        advance(ms: number) {
          now += ms;
        },
        runOnce: () => (elector as ReturnType<typeof createLeaderElector>).runOnce(),
      };
    };

    it('moves the address to the other proxy when the leader stops renewing, dropping it on the old leader first', async () => {
      const a = candidate('proxy-a', 'pgw-a');
      const b = candidate('proxy-b', 'pgw-b');
      await a.proxy.start();
      await b.proxy.start();

      expect(await a.runOnce(), 'proxy-a leads').toBe(true);
      expect(await b.runOnce(), 'proxy-b follows').toBe(false);
      await eventually(() => (addressesOf('pgw-a').includes(VIP) ? true : undefined), 10_000, 'the VIP on the leader');
      expect(addressesOf('pgw-b')).toEqual([]);
      expect(fake.get('Lease', 'db', 'pgwarden-proxy')?.spec).toMatchObject({ holderIdentity: 'proxy-a' });

      // The leader's renewal fails; it keeps the address until the renew deadline (10 s) passes, then drops it.
      fake.failNext({ method: 'PUT', pathIncludes: '/leases/', status: 500, times: 1 });
      a.advance(5_000);
      expect(await a.runOnce(), 'proxy-a still leads before its renew deadline').toBe(true);
      expect(addressesOf('pgw-a')).toEqual([VIP]);
      a.advance(6_000);
      expect(await a.runOnce(), 'proxy-a steps down after its renew deadline').toBe(false);
      await eventually(() => (addressesOf('pgw-a').length === 0 ? true : undefined), 10_000, 'the old leader to drop the VIP');
      expect(a.proxy.state(), 'proxy-a no longer leads').toMatchObject({ leader: false });

      // After the lease duration without a change, the other candidate takes over and adds the address.
      b.advance(16_000);
      expect(await b.runOnce(), 'proxy-b takes over').toBe(true);
      await eventually(() => (addressesOf('pgw-b').includes(VIP) ? true : undefined), 10_000, 'the VIP on the new leader');
      expect(fake.get('Lease', 'db', 'pgwarden-proxy')?.spec).toMatchObject({ holderIdentity: 'proxy-b' });
      const metrics = await (await fetch(`http://127.0.0.1:${b.proxy.ports.api}/metrics`)).text();
      expect(metrics).toContain('pgwarden_proxy_leader 1');
    });
  });
});
