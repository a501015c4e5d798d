/**
 * Which node issued which cancel key: the table that lets a CancelRequest reach the backend it names.
 *
 * A client cancels a query by opening a new connection and sending its backend's key (process id and secret, from
 * the BackendKeyData the server sent at startup). Routed like a new session, by least connections, a cancel lands
 * on any replica, which ignores a key it did not issue. So every data plane records the key it sees pass from
 * server to client (backend-key.ts) with the node it came from, and routes a CancelRequest by it.
 *
 * Why a table in a SharedArrayBuffer: a cancel is accepted by whichever thread the kernel picks (SO_REUSEPORT over
 * the main thread, the worker threads, or the native addon's epoll threads), not the one that saw the key. Asking
 * the main thread would put a message round trip and the main event loop on the cancel path, and the addon's
 * threads cannot wait on JavaScript; a table in shared memory is read the same from JavaScript (Atomics) and C
 * (the `__atomic` builtins on the same layout, native/splice.c), with no lock and nothing on the hot path.
 *
 * Layout (Int32): [0] encrypted sessions open (their keys cannot be read), [1] capacity (a power of two), [2..3]
 * reserved; then `capacity` entries of 4 fields: state (0 free, 1 being written, 2 in use), pid, key hash, node.
 * Bounded memory: an entry belongs to one open client connection and is freed when it closes (not when routes
 * change: across a failover the old primary's key is still honoured while that node is up), so with capacity at
 * twice `maxClients` the table never fills and probes stay short.
 */

const HEADER = 4;
const FIELDS = 4;
const FREE = 0;
const WRITING = 1;
const USED = 2;

/** FNV-1a offset basis and prime: the key hash is FNV-1a over the secret's bytes (4 in protocol 3.0, up to 256 in 3.2). */
export const KEY_HASH_SEED = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** One more byte of a secret key into its running hash. */
export function hashKeyByte(hash: number, byte: number): number {
  return Math.imul(hash ^ byte, FNV_PRIME) | 0;
}

/** The hash of a whole secret key (`bytes[start, end)`). */
export function hashKey(bytes: Uint8Array, start: number, end: number): number {
  let hash = KEY_HASH_SEED | 0;
  for (let i = start; i < end; i++) hash = hashKeyByte(hash, bytes[i] as number);
  return hash;
}

/** Where a key's probe starts (native/splice.c computes the same). */
function home(pid: number, keyHash: number, mask: number): number {
  return (Math.imul(pid, 0x9e3779b1) ^ keyHash) & mask;
}

export interface CancelKeys {
  /** Records a key issued by `node`; returns its entry, to `forget` when the client connection closes (-1: full). */
  record(pid: number, keyHash: number, node: number): number;
  forget(entry: number): void;
  /** The node that issued the key, or -1. */
  lookup(pid: number, keyHash: number): number;
  /** A session went encrypted (its key cannot be read) / ended. */
  encryptedOpened(): void;
  encryptedClosed(): void;
  /** Encrypted sessions open: while there are any, an unknown key may be theirs. */
  encrypted(): number;
}

/** A new table for at most `maxClients` open clients. */
export function createCancelKeyBuffer(maxClients: number): SharedArrayBuffer {
  let capacity = 64;
  while (capacity < maxClients * 2) capacity *= 2;
  const buffer = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * (HEADER + capacity * FIELDS));
  new Int32Array(buffer)[1] = capacity;
  return buffer;
}

/** A view of a table made by `createCancelKeyBuffer` (in this thread or another). */
export function attachCancelKeys(buffer: SharedArrayBuffer): CancelKeys {
  const table = new Int32Array(buffer);
  const capacity = table[1] as number;
  const mask = capacity - 1;
  return {
    record(pid, keyHash, node) {
      const start = home(pid, keyHash, mask);
      for (let i = 0; i < capacity; i++) {
        const entry = (start + i) & mask;
        const at = HEADER + entry * FIELDS;
        if (Atomics.compareExchange(table, at, FREE, WRITING) !== FREE) continue;
        Atomics.store(table, at + 1, pid);
        Atomics.store(table, at + 2, keyHash);
        Atomics.store(table, at + 3, node);
        Atomics.store(table, at, USED);
        return entry;
      }
      return -1;
    },
    forget(entry) {
      if (entry >= 0 && entry < capacity) Atomics.store(table, HEADER + entry * FIELDS, FREE);
    },
    lookup(pid, keyHash) {
      // Every entry: a freed one in the middle of a probe run leaves no mark, so a miss cannot stop at a hole. A
      // cancel is rare and the table small (16 bytes per allowed client); the scan starts where the key would be.
      const start = home(pid, keyHash, mask);
      for (let i = 0; i < capacity; i++) {
        const at = HEADER + ((start + i) & mask) * FIELDS;
        if (Atomics.load(table, at) !== USED) continue;
        if (Atomics.load(table, at + 1) !== pid || Atomics.load(table, at + 2) !== keyHash) continue;
        return Atomics.load(table, at + 3);
      }
      return -1;
    },
    encryptedOpened: () => void Atomics.add(table, 0, 1),
    encryptedClosed: () => void Atomics.sub(table, 0, 1),
    encrypted: () => Atomics.load(table, 0),
  };
}
