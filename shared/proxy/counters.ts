/**
 * The proxy's counters, in memory every data-plane thread sees (SharedArrayBuffer), so admission and least
 * connections use the whole proxy's numbers and a scrape reads them without asking the threads.
 *
 * - Open clients, in total and per node and listener: `Atomics` adds, since every thread changes them.
 * - Totals, bytes and refusals: one slot per thread, written only by that thread (plain stores, no atomics on
 *   the data path) and summed when read. A read may miss a thread's last increment by a moment; never tears a
 *   count across threads.
 */
import { attachCancelKeys, type CancelKeys, createCancelKeyBuffer } from './cancel-keys.ts';
import type { ListenerName } from './metrics.ts';
import type { RefusalReason } from './wire.ts';

const REFUSAL_REASONS: readonly RefusalReason[] = [
  'too_many_clients',
  'no_primary',
  'split_brain',
  'no_target',
  'backend_unreachable',
  'shutting_down',
];

const LISTENERS: readonly ListenerName[] = ['rw', 'ro'];

/** What a thread needs to attach to the same counters (sent to workers in `workerData`). */
export interface CounterBuffers {
  readonly threads: number;
  readonly nodes: number;
  readonly open: SharedArrayBuffer;
  readonly slots: SharedArrayBuffer;
  /** Cancel keys and the nodes that issued them (cancel-keys.ts): shared like the counters, for the same threads. */
  readonly keys: SharedArrayBuffer;
}

/** Per node, per thread slot: total rw, total ro, bytes in, bytes out. */
const NODE_FIELDS = 4;

/** Bytes spliced for one node by one thread; the splice adds to these fields (see splice.ts `ByteCounter`). */
export interface NodeBytes {
  bytesIn: number;
  bytesOut: number;
}

export interface NodeTraffic {
  readonly open: Readonly<Record<ListenerName, number>>;
  readonly total: Readonly<Record<ListenerName, number>>;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

export interface ProxyCounters {
  readonly buffers: CounterBuffers;
  /** Float64 fields per thread slot in `buffers.slots` (the native path writes the same layout). */
  readonly slotStride: number;
  /** The cancel-key table (cancel-keys.ts). */
  readonly keys: CancelKeys;
  /** Takes a client slot unless `max` are open; false when full. */
  reserveClient(max: number): boolean;
  releaseClient(): void;
  clients(): number;
  /** Open clients of a node on a listener, over every thread. */
  open(node: number, listener: ListenerName): number;
  opened(slot: number, node: number, listener: ListenerName): void;
  closed(node: number, listener: ListenerName): void;
  refused(slot: number, listener: ListenerName, reason: RefusalReason): void;
  /** The byte counter a thread's splices to `node` add to. */
  bytes(slot: number, node: number): NodeBytes;
  /** A node's numbers over every thread: open clients, clients routed since start, bytes each way. */
  traffic(node: number): NodeTraffic;
  /** Clients routed by each thread since start. */
  routedBy(slot: number): number;
  refusals(): Array<[ListenerName, RefusalReason, number]>;
}

/** New counters for `threads` data-plane threads and `nodes` nodes, with a cancel-key table for `maxClients`. */
export function createCounterBuffers(threads: number, nodes: number, maxClients = 1000): CounterBuffers {
  const stride = nodes * NODE_FIELDS + LISTENERS.length * REFUSAL_REASONS.length;
  return {
    threads,
    nodes,
    open: new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * (1 + nodes * LISTENERS.length)),
    slots: new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT * threads * stride),
    keys: createCancelKeyBuffer(maxClients),
  };
}

/** A view of counters made by `createCounterBuffers` (in this thread or another). */
export function attachCounters(buffers: CounterBuffers): ProxyCounters {
  const { threads, nodes } = buffers;
  // [0]: open clients in all; then per node: rw, ro.
  const open = new Int32Array(buffers.open);
  const slots = new Float64Array(buffers.slots);
  const stride = nodes * NODE_FIELDS + LISTENERS.length * REFUSAL_REASONS.length;
  const refusalBase = nodes * NODE_FIELDS;
  const listenerIndex = (listener: ListenerName) => (listener === 'rw' ? 0 : 1);
  const sum = (offset: number) => {
    let total = 0;
    for (let slot = 0; slot < threads; slot++) total += slots[slot * stride + offset] as number;
    return total;
  };
  return {
    buffers,
    slotStride: stride,
    keys: attachCancelKeys(buffers.keys),
    reserveClient(max) {
      if (Atomics.add(open, 0, 1) < max) return true;
      Atomics.sub(open, 0, 1);
      return false;
    },
    releaseClient: () => void Atomics.sub(open, 0, 1),
    clients: () => Atomics.load(open, 0),
    open: (node, listener) => Atomics.load(open, 1 + node * 2 + listenerIndex(listener)),
    opened(slot, node, listener) {
      Atomics.add(open, 1 + node * 2 + listenerIndex(listener), 1);
      const index = slot * stride + node * NODE_FIELDS + listenerIndex(listener);
      slots[index] = (slots[index] as number) + 1;
    },
    closed: (node, listener) => void Atomics.sub(open, 1 + node * 2 + listenerIndex(listener), 1),
    refused(slot, listener, reason) {
      const index = slot * stride + refusalBase + listenerIndex(listener) * REFUSAL_REASONS.length + REFUSAL_REASONS.indexOf(reason);
      slots[index] = (slots[index] as number) + 1;
    },
    bytes(slot, node) {
      const at = slot * stride + node * NODE_FIELDS;
      return {
        get bytesIn() {
          return slots[at + 2] as number;
        },
        set bytesIn(value: number) {
          slots[at + 2] = value;
        },
        get bytesOut() {
          return slots[at + 3] as number;
        },
        set bytesOut(value: number) {
          slots[at + 3] = value;
        },
      };
    },
    traffic: (node) => ({
      open: { rw: Atomics.load(open, 1 + node * 2), ro: Atomics.load(open, 2 + node * 2) },
      total: { rw: sum(node * NODE_FIELDS), ro: sum(node * NODE_FIELDS + 1) },
      bytesIn: sum(node * NODE_FIELDS + 2),
      bytesOut: sum(node * NODE_FIELDS + 3),
    }),
    routedBy(slot) {
      let routed = 0;
      for (let node = 0; node < nodes; node++) {
        routed += (slots[slot * stride + node * NODE_FIELDS] as number) + (slots[slot * stride + node * NODE_FIELDS + 1] as number);
      }
      return routed;
    },
    refusals() {
      const out: Array<[ListenerName, RefusalReason, number]> = [];
      for (const listener of LISTENERS) {
        for (const reason of REFUSAL_REASONS) {
          const count = sum(refusalBase + listenerIndex(listener) * REFUSAL_REASONS.length + REFUSAL_REASONS.indexOf(reason));
          if (count > 0) out.push([listener, reason, count]);
        }
      }
      return out;
    },
  };
}
