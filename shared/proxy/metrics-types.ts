/** The types the proxy's metrics files share (so none of them imports another's types and code both ways). */
import type { SplitBrain } from './router.ts';

export type ListenerName = 'rw' | 'ro';

/** A node as the proxy state shows it (structurally `NodeState` in types.ts). */
export interface MetricsNode {
  readonly name: string;
  readonly role: 'primary' | 'replica' | 'unknown';
  readonly up: boolean;
  /** When the last check ended (null: never checked). */
  readonly lastCheckAt: string | null;
  readonly lagBytes: number | null;
  readonly routing: Readonly<Record<ListenerName, boolean>>;
  readonly connections: Readonly<Record<ListenerName, number>>;
  readonly connectionsTotal: Readonly<Record<ListenerName, number>>;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** The proxy state the metrics read (structurally `ProxyState` in types.ts). */
export interface MetricsState {
  readonly leader: boolean;
  readonly failovers: number;
  readonly splitBrain: { readonly kind: SplitBrain['kind'] };
  readonly dataPath: string;
  readonly clients: { readonly active: number; readonly max: number };
  readonly nodes: readonly MetricsNode[];
}

/** What the metrics read at scrape time. */
export interface MetricsSource {
  /** The proxy's state, as `/topology` shows it. */
  state(): MetricsState;
  refused(): Iterable<[listener: ListenerName, reason: string, count: number]>;
  /** Clients routed since start by each data-plane thread (index = worker; 0 is the main thread). */
  workers(): readonly number[];
}
