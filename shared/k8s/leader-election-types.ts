/** The leader elector's public shapes, shared by its factory, its settings and its loop. */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log/index.ts';

export interface LeaderElectorOptions {
  /** From `createKubeConfig`. */
  kubeConfig: KubeConfig;
  /** The Lease's name (`--lease`). */
  name: string;
  namespace: string;
  /** This candidate's unique identity, usually the pod name. */
  identity: string;
  /** How long a non-leader waits, after it last saw the Lease change, before taking it over (default 15 s). */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it gives up leadership (default 10 s). */
  renewDeadlineMs?: number;
  /** The interval between attempts (default 2 s; candidates add client-go's jitter of up to 1.2×). */
  retryPeriodMs?: number;
  /** Abort one API request after this long (default renewDeadlineMs / 2, as kube-controller-manager does). */
  requestTimeoutMs?: number;
  clock?: () => Date;
  /** For the acquire jitter; default Math.random. */
  random?: () => number;
  logger?: Logger;
  /** Called once leadership is won (add the VIP here). Errors are logged. */
  onStartedLeading: () => void | Promise<void>;
  /** Called first thing when leadership is lost or given up (drop the VIP here), before the Lease is touched. */
  onStoppedLeading: () => void | Promise<void>;
}

export interface LeaderElector {
  /** Runs `runOnce` every retry period (timers are unref'd: they do not keep the process alive). */
  start(): void;
  /** Stops the loop; when leading, calls onStoppedLeading and then releases the Lease (holderIdentity cleared). */
  stop(): Promise<void>;
  isLeader(): boolean;
  /** The holder this candidate last saw on the Lease (undefined before the first read or when released). */
  leader(): string | undefined;
  /**
   * One acquire-or-renew attempt and the step-down check, at the injected clock's time. `start()` calls it on a
   * timer; tests call it directly with a manual clock. Resolves to whether this candidate leads afterwards.
   */
  runOnce(): Promise<boolean>;
}
