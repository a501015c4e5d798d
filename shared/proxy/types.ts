/**
 * The types the proxy's parts share: the state `/topology` and the metrics read, the data path, the elector's
 * shape. They live here, importing no code, so proxy.ts, api.ts and the parts they wire never import each other.
 */
import type { CheckClock } from './checks.ts';
import type { SplitBrain } from './router.ts';
import type { DataPath } from './splice.ts';
import type { RefusalReason } from './wire.ts';

/** Timers, injectable so tests and simulations control time. */
export type ProxyClock = CheckClock;

/** The shape of `shared/k8s`'s `createLeaderElector` result. */
export interface LeaderElector {
  start(): void;
  stop(): Promise<void>;
  isLeader(): boolean;
}

/** Builds an elector wired to the proxy's callbacks (so the proxy decides what leading means: holding the VIP). */
export type LeaderElectorFactory = (handlers: { onStartedLeading: () => void; onStoppedLeading: () => void }) => LeaderElector;

export interface ProxyNode {
  readonly name: string;
  /** The node URL; its user and password are the monitoring login. Clients bring their own credentials. */
  readonly url: string;
}

/**
 * `native`: the addon's epoll threads (native.ts); `handles` and `streams`: the JavaScript data plane on the event
 * loop and worker threads (splice.ts).
 */
export type ProxyDataPath = 'native' | DataPath;

/** The proxy's two listeners: read-write and read-only. */
export type ListenerName = 'rw' | 'ro';

export type ProxyStatus = 'created' | 'starting' | 'running' | 'draining' | 'stopped';
export type NodeRole = 'primary' | 'replica' | 'unknown';

export interface NodeState {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly role: NodeRole;
  readonly up: boolean;
  readonly drained: boolean;
  readonly timeline: number | null;
  readonly lagBytes: number | null;
  /** Serving: the read-write target, or in the read-only pool. */
  readonly routing: { readonly rw: boolean; readonly ro: boolean };
  readonly connections: Readonly<Record<ListenerName, number>>;
  readonly connectionsTotal: Readonly<Record<ListenerName, number>>;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly lastCheckMs: number | null;
  readonly lastCheckAt: string | null;
  readonly error: string | null;
}

export interface ProxyState {
  readonly status: ProxyStatus;
  readonly leader: boolean;
  readonly primary: string | null;
  /** Why read-write is refused now (null while a primary is routed). */
  readonly rwRefusal: RefusalReason | null;
  readonly replicas: string[];
  readonly splitBrain: SplitBrain;
  readonly failovers: number;
  /** Data-plane threads sharing the listeners (setting `workers`). */
  readonly workers: number;
  readonly dataPath: ProxyDataPath;
  readonly clients: { readonly active: number; readonly max: number };
  readonly nodes: NodeState[];
}
