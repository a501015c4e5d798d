/**
 * The floating address (VIP): the `AddressManager` port and its `ip addr` implementation.
 *
 * Only the holder of the Lease holds the address. `add()` runs `ip addr replace <vip> dev <if>` (the idempotent
 * form of `ip addr add`) and then announces it with a gratuitous ARP (`arping -U -c 2 -I <if> <ip>`), so switches
 * and neighbours move the address to this host at once. Without `arping` on the PATH no announcement is sent:
 * neighbours then keep the old MAC until their ARP entry goes stale (typically 30–60 s on Linux), which the log
 * says once; install iputils-arping in the image to avoid that gap.
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../log/index.ts';
import { AddressCommandError, ProxyOptionsError } from './errors.ts';

/** Holds and releases the floating address. */
export interface AddressManager {
  /** The address in CIDR form, e.g. `10.0.0.10/32`. */
  readonly address: string;
  add(): Promise<void>;
  /** Drops the address; succeeds when it was not held. */
  remove(): Promise<void>;
  /** Whether the interface carries the address now. */
  held(): Promise<boolean>;
}

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The program was not found. */
  readonly missing: boolean;
}

/** Runs one program; never throws for a non-zero exit. */
export type CommandRunner = (file: string, args: readonly string[]) => Promise<CommandResult>;

/** Runs a program directly, or inside a network namespace (`ip netns exec <ns> …`) when `netns` is given. */
export function createCommandRunner(options: { netns?: string; timeoutMs?: number } = {}): CommandRunner {
  return (file, args) => {
    const [program, argv] = options.netns ? ['ip', ['netns', 'exec', options.netns, file, ...args]] : [file, [...args]];
    return new Promise((resolve) => {
      execFile(program, argv, { timeout: options.timeoutMs ?? 10_000, encoding: 'utf8' }, (error, stdout, stderr) => {
        const errno = (error as NodeJS.ErrnoException | null)?.code;
        const missing =
          errno === 'ENOENT' || (options.netns !== undefined && /No such file or directory/.test(stderr) && /exec/.test(stderr));
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr, missing });
      });
    });
  };
}

export interface IpAddressManagerOptions {
  /** IPv4 address with prefix, e.g. `10.0.0.10/32`. */
  readonly address: string;
  readonly interface: string;
  readonly logger: Logger;
  /** Default: runs `ip`/`arping` on this host. */
  readonly run?: CommandRunner;
}

/**
 * An `AddressManager` that uses iproute2 and, when present, `arping` for the gratuitous ARP.
 *
 * @example createIpAddressManager({ address: '10.0.0.10/32', interface: 'eth0', logger })
 */
export function createIpAddressManager(options: IpAddressManagerOptions): AddressManager {
  if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(options.address)) {
    throw new ProxyOptionsError(`vip: expected an IPv4 address with a prefix like 10.0.0.10/32, got "${options.address}"`);
  }
  if (!options.interface) throw new ProxyOptionsError('vipInterface: required with vip (the interface that carries the address)');
  const run = options.run ?? createCommandRunner();
  const ip = options.address.slice(0, options.address.indexOf('/'));
  let warnedNoArping = false;

  const ipCommand = async (args: string[], tolerate?: RegExp) => {
    const result = await run('ip', args);
    if (result.code === 0) return;
    if (tolerate?.test(result.stderr)) return;
    throw new AddressCommandError(`ip ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim()}`, {
      command: `ip ${args.join(' ')}`,
      exitCode: result.code,
      stderr: result.stderr,
    });
  };

  return {
    address: options.address,
    async add() {
      await ipCommand(['addr', 'replace', options.address, 'dev', options.interface]);
      const arp = await run('arping', ['-U', '-c', '2', '-I', options.interface, ip]);
      if (arp.missing) {
        if (!warnedNoArping) {
          warnedNoArping = true;
          options.logger.warn('arping not found: no gratuitous ARP sent; neighbours learn the move when their ARP entry expires', {
            vip: options.address,
          });
        }
      } else if (arp.code !== 0) {
        options.logger.warn('gratuitous ARP failed', { vip: options.address, stderr: arp.stderr.trim() });
      }
      options.logger.info('floating address added', { vip: options.address, interface: options.interface });
    },
    async remove() {
      // "Cannot assign requested address": the address was not there, which is the goal.
      await ipCommand(['addr', 'del', options.address, 'dev', options.interface], /Cannot assign requested address|not found/i);
      options.logger.info('floating address removed', { vip: options.address, interface: options.interface });
    },
    async held() {
      const result = await run('ip', ['-o', '-4', 'addr', 'show', 'dev', options.interface]);
      if (result.code !== 0) return false;
      return result.stdout.split('\n').some((line) => line.includes(` ${options.address} `) || line.includes(` ${ip}/`));
    },
  };
}
