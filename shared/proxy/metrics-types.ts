/** The types the proxy's metrics files share (so none of them imports another's types and code both ways). */
import type { ListenerName, NodeState, ProxyState } from './types.ts';

export type { ListenerName };

/** A node as the metrics read it: the fields of the proxy state's `NodeState` that a series shows. */
export type MetricsNode = Pick<
  NodeState,
  'name' | 'role' | 'up' | 'lastCheckAt' | 'lagBytes' | 'routing' | 'connections' | 'connectionsTotal' | 'bytesIn' | 'bytesOut'
>;

/** The proxy state the metrics read: `ProxyState`'s fields that a series shows. */
export type MetricsState = Pick<ProxyState, 'leader' | 'failovers' | 'splitBrain' | 'dataPath' | 'clients'> & {
  readonly nodes: readonly MetricsNode[];
};

/** What the metrics read at scrape time. */
export interface MetricsSource {
  /** The proxy's state, as `/topology` shows it. */
  state(): MetricsState;
  refused(): Iterable<[listener: ListenerName, reason: string, count: number]>;
  /** Clients routed since start by each data-plane thread (index = worker; 0 is the main thread). */
  workers(): readonly number[];
}
