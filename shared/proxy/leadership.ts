/**
 * What leading means for the proxy: holding the floating address. With a Lease elector the proxy leads while it
 * holds the Lease; without one it is the only instance and leads from the start. Adding and removing the address
 * run one after another, so a quick lose/win never interleaves `ip addr` commands.
 */
import type { ProxySettings } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import { type AddressManager, createIpAddressManager } from './address.ts';
import type { LeaderElectorFactory } from './types.ts';

export interface LeadershipOptions {
  readonly settings: Pick<ProxySettings, 'vip' | 'vipInterface'>;
  readonly logger: Logger;
  /** Lease-based leader election; without one this proxy leads from `start()`. */
  readonly elector?: LeaderElectorFactory;
  /** The floating address; default: `ip addr` on `settings.vipInterface` when `settings.vip` is set. */
  readonly addresses?: AddressManager;
}

export interface Leadership {
  leading(): boolean;
  /** Starts the elector, or leads at once without one. */
  start(): void;
  /** Stops the elector, gives up leading (the address first) and waits for the address commands to finish. */
  stop(): Promise<void>;
}

/**
 * Creates the leadership (the elector is built now and started by `start()`).
 *
 * @example
 * const leadership = createLeadership({ settings, logger, elector: options.elector });
 * leadership.start();
 */
export function createLeadership(options: LeadershipOptions): Leadership {
  const { settings, logger } = options;
  const addresses: AddressManager | undefined =
    options.addresses ??
    (settings.vip && settings.vipInterface
      ? createIpAddressManager({ address: settings.vip, interface: settings.vipInterface, logger })
      : undefined);
  let leading = false;

  let addressQueue: Promise<void> = Promise.resolve();
  const onStartedLeading = () => {
    leading = true;
    logger.info(options.elector ? 'lease won: this proxy leads' : 'no lease configured: this proxy leads as the only instance', {
      vip: addresses?.address,
    });
    if (!addresses) return;
    addressQueue = addressQueue.then(async () => {
      if (!leading) return;
      await addresses.add().catch((error: unknown) => logger.error('cannot add the floating address', { error }));
    });
  };
  const onStoppedLeading = () => {
    leading = false;
    logger.warn('leadership ended: dropping the floating address first', { vip: addresses?.address });
    if (!addresses) return;
    addressQueue = addressQueue.then(async () => {
      await addresses.remove().catch((error: unknown) => logger.error('cannot remove the floating address', { error }));
    });
  };
  const elector = options.elector?.({ onStartedLeading, onStoppedLeading });

  return {
    leading: () => leading,
    start() {
      if (elector) elector.start();
      else onStartedLeading();
    },
    async stop() {
      if (elector) await elector.stop();
      if (leading) onStoppedLeading();
      await addressQueue;
    },
  };
}
