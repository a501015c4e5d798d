/**
 * The data path: bytes from a client socket to a backend socket and back, untouched.
 *
 * Every microsecond here is taken from Postgres and the clients on a small machine, so there are two paths:
 * - `handles` (default): reads land in a static per-connection buffer (`useUserBuffer`, what `net.Socket`'s
 *   `onread` option does) and are written straight to the other TCP handle with `writeBuffer`, bypassing the
 *   Readable/Writable stream machinery. A write that the kernel cannot take at once (async) stops reading that side
 *   until it completes, so the static buffer is never overwritten while in flight: backpressure for free. This
 *   uses Node's `stream_wrap` binding (`process.binding`, DEP0111, documented-deprecated but kept for the
 *   `stream_wrap`/`tcp_wrap` allow-list in Node 22); when it is missing, the `streams` path is used.
 * - `streams`: two 'data' listeners that write through with pause/resume backpressure.
 * Both add each chunk's length to two plain number fields; no metric label lookup on the data path.
 * bench/proxy.bench.ts measures both against HAProxy.
 */
import { Socket } from 'node:net';
import type { BackendKeyScanner } from './backend-key.ts';
import { handleOf, type RawHandle, type RawLink, type StreamWrapBinding, streamWrap, UV_EOF } from './handles.ts';

/** Plain counters the splice adds to; summed into metrics at scrape time. */
export interface ByteCounter {
  /** Client → node. */
  bytesIn: number;
  /** Node → client. */
  bytesOut: number;
}

/**
 * How a session's splice starts: the client's first packet, read to route it (data-plane.ts), goes to the node
 * first; `scanner` reads the node's startup messages for the cancel key until ReadyForQuery, then is dropped.
 */
export interface SpliceStartup {
  readonly initial: Buffer;
  /** The client's FIN came with its first packet (read already): the node gets it after `initial`. */
  readonly clientEnded: boolean;
  readonly scanner: BackendKeyScanner | null;
}

/** Splices `client` and `server` both ways with 'data' events and `write()` (the portable path); `onClose` runs once when both are gone. */
function spliceWithStreams(client: Socket, server: Socket, counter: ByteCounter, onClose: () => void, startup: SpliceStartup | null): void {
  const { closedOne } = spliceLifecycle(client, server, onClose);
  let scanner = startup?.scanner ?? null;
  if (startup) server.write(startup.initial);
  if (startup?.clientEnded) server.end();
  const resumeClient = () => client.resume();
  const resumeServer = () => server.resume();
  client.on('data', (chunk: Buffer) => {
    counter.bytesIn += chunk.length;
    if (!server.write(chunk)) {
      client.pause();
      server.once('drain', resumeClient);
    }
  });
  server.on('data', (chunk: Buffer) => {
    counter.bytesOut += chunk.length;
    if (scanner && !scanner.feed(chunk, chunk.length)) scanner = null;
    if (!client.write(chunk)) {
      server.pause();
      client.once('drain', resumeServer);
    }
  });
  // A clean FIN travels on after the queued bytes; an error (reset, timeout) tears the other side down at once.
  client.on('end', () => server.end());
  server.on('end', () => client.end());
  client.on('error', () => server.destroy());
  server.on('error', () => client.destroy());
  client.on('close', (hadError) => {
    if (hadError) server.destroy();
    else server.end();
    closedOne();
  });
  server.on('close', (hadError) => {
    if (hadError) client.destroy();
    else client.end();
    closedOne();
  });
  client.resume();
  server.resume();
}

/** Size of each per-connection, per-direction read buffer (HAProxy's default `tune.bufsize` is 16 kB as well). */
const RAW_BUFFER_BYTES = 16 * 1024;

/**
 * Read buffers of closed splices, reused by new ones. A fresh 16 kB buffer per direction per connection is
 * off-heap memory V8 counts towards its next full collection: at a few hundred new connections a second
 * (`pgbench -C`) that alone started a mark-compact of the whole heap every ~2 s, on the main thread and the
 * platform workers, which was most of the proxy's per-connection CPU beyond the syscalls. Kept up to
 * `MAX_FREE_BUFFERS` (4 MB); beyond that a burst's buffers are left to the collector.
 */
const freeBuffers: Buffer[] = [];
const MAX_FREE_BUFFERS = 256;

function takeBuffer(): Buffer {
  return freeBuffers.pop() ?? Buffer.allocUnsafeSlow(RAW_BUFFER_BYTES);
}

/** Only once both handles are closed: libuv has then cancelled any write still reading from the buffer. */
function returnBuffer(buffer: Buffer): void {
  if (freeBuffers.length < MAX_FREE_BUFFERS) freeBuffers.push(buffer);
}

export type DataPath = 'handles' | 'streams';

/** The data path this runtime supports best. */
export const defaultDataPath: DataPath = streamWrap ? 'handles' : 'streams';

/**
 * Moves bytes both ways between two TCP handles (see the module comment). `finish` closes both ends; `buffers`
 * receives the two read buffers, to return once both ends are closed.
 */
function wireHandles(
  clientHandle: RawHandle,
  serverHandle: RawHandle,
  counter: ByteCounter,
  finish: () => void,
  isFinished: () => boolean,
  buffers: Buffer[],
  startup: SpliceStartup | null,
): void {
  const { WriteWrap, ShutdownWrap, streamBaseState, kReadBytesOrError, kLastWriteWasAsync } = streamWrap as StreamWrapBinding;
  if (startup) {
    // Queued before any spliced byte: libuv writes a handle's requests in order.
    const first = new WriteWrap();
    first.handle = serverHandle;
    first.buffer = startup.initial;
    first.oncomplete = (status) => {
      if (status < 0) finish();
    };
    if (serverHandle.writeBuffer(first, startup.initial) !== 0) {
      finish();
      return;
    }
  }
  const scanner = startup?.scanner ?? null;
  /** Directions that have seen their source's EOF; the second one ends the splice. */
  let ended = 0;
  const passFin = (target: RawHandle) => {
    const shutdown = new ShutdownWrap();
    shutdown.handle = target;
    shutdown.oncomplete = (status) => {
      if (status < 0) finish();
    };
    if (target.shutdown(shutdown) !== 0) finish();
  };
  const wire = (source: RawHandle, target: RawHandle, toServer: boolean) => {
    const buffer = takeBuffer();
    buffers.push(buffer);
    // A request object is only taken over by libuv when the write goes async; until then it is reused.
    let req = new WriteWrap();
    const resume = (status: number) => {
      if (status < 0) return finish();
      if (!isFinished()) source.readStart();
    };
    req.handle = target;
    req.oncomplete = resume;
    source.useUserBuffer(buffer);
    // The view written for the last chunk: a protocol's messages repeat their lengths (pgbench -S: the same query
    // and row sizes), so most chunks reuse it instead of allocating a new Uint8Array per read.
    let chunk = buffer.subarray(0, 0);
    const onread = () => {
      const nread = streamBaseState[kReadBytesOrError] as number;
      if (nread > 0) {
        if (toServer) counter.bytesIn += nread;
        else counter.bytesOut += nread;
        if (chunk.length !== nread) chunk = buffer.subarray(0, nread);
        if (target.writeBuffer(req, chunk) !== 0) return finish();
        if (streamBaseState[kLastWriteWasAsync]) {
          // The kernel took part of it: stop reading into `buffer` until libuv has written the rest.
          source.readStop();
          req.buffer = buffer;
          req = new WriteWrap();
          req.handle = target;
          req.oncomplete = resume;
        }
        return;
      }
      // 0: nothing this time (EAGAIN). Negative: EOF or an error.
      if (nread === UV_EOF) {
        // A half-close: pass the FIN on and keep the other direction open for the answer (a client may end its
        // side right after its last request). Every byte read so far is with the kernel: reading stops while a
        // write is in flight. Both directions ended: done.
        if (++ended === 2) return finish();
        passFin(target);
      } else if (nread < 0) {
        finish();
      }
    };
    source.onread = onread;
    if (!toServer && scanner) {
      // The node's startup messages, scanned before the client gets them; from ReadyForQuery on, the plain onread.
      source.onread = () => {
        const nread = streamBaseState[kReadBytesOrError] as number;
        if (nread > 0 && !scanner.feed(buffer, nread)) source.onread = onread;
        onread();
      };
    }
    source.readStart();
  };
  if (startup?.clientEnded) {
    // The client's FIN was read with its first packet: passed on after it, and nothing more to read from it.
    ended = 1;
    passFin(serverHandle);
  } else {
    wire(clientHandle, serverHandle, true);
  }
  wire(serverHandle, clientHandle, false);
}

/**
 * The end of a splice, shared by both data paths: `finish` destroys both ends once (either end's error or close
 * calls it); `closedOne` counts the two closes and, after the second, returns the read buffers to the pool and
 * calls `onClose` exactly once.
 */
function spliceLifecycle(a: { destroy(): void }, b: { destroy(): void }, onClose: () => void) {
  let finished = false;
  let open = 2;
  const buffers: Buffer[] = [];
  return {
    buffers,
    /** True once `finish` ran (the splice is being torn down). */
    finished: () => finished,
    finish() {
      if (finished) return;
      finished = true;
      a.destroy();
      b.destroy();
    },
    closedOne() {
      open--;
      if (open > 0) return;
      for (const buffer of buffers) returnBuffer(buffer);
      onClose();
    },
  };
}

/**
 * Splices two connected, paused sockets on their TCP handles (see the module comment). Closing either socket
 * (`destroy()`, e.g. fencing) ends the splice; `onClose` runs once both sockets are closed.
 */
function spliceWithHandles(client: Socket, server: Socket, counter: ByteCounter, onClose: () => void, startup: SpliceStartup | null): void {
  const clientHandle = handleOf(client);
  const serverHandle = handleOf(server);
  if (!streamWrap || !clientHandle || !serverHandle) {
    spliceWithStreams(client, server, counter, onClose, startup);
    return;
  }
  const { finish, closedOne, finished, buffers } = spliceLifecycle(client, server, onClose);
  client.on('error', finish);
  server.on('error', finish);
  client.once('close', () => {
    finish();
    closedOne();
  });
  server.once('close', () => {
    finish();
    closedOne();
  });
  wireHandles(clientHandle, serverHandle, counter, finish, finished, buffers, startup);
}

/**
 * Splices a paused client (a `net.Socket`, or a raw client from `takeOverConnections`) with a connected
 * bare-handle backend (`connectBackend`). Closing either (`destroy()`) ends the splice; `onClose` runs once both
 * are closed.
 */
export function spliceWithBackend(
  client: Socket | RawLink,
  backend: RawLink,
  counter: ByteCounter,
  onClose: () => void,
  startup: SpliceStartup | null = null,
): void {
  const { finish, closedOne, finished, buffers } = spliceLifecycle(client, backend, onClose);
  backend.onClosed = () => {
    finish();
    closedOne();
  };
  let clientHandle: RawHandle | null;
  if (client instanceof Socket) {
    client.on('error', finish);
    client.once('close', () => {
      finish();
      closedOne();
    });
    clientHandle = handleOf(client);
  } else {
    client.onClosed = () => {
      finish();
      closedOne();
    };
    clientHandle = client.closing ? null : client.handle;
  }
  if (!clientHandle) {
    // The client closed before the backend connected: nothing to move.
    finish();
    return;
  }
  wireHandles(clientHandle, backend.handle, counter, finish, finished, buffers, startup);
}

/** Splices with the given data path (default: the fastest this runtime supports). */
export function spliceSockets(
  client: Socket,
  server: Socket,
  counter: ByteCounter,
  onClose: () => void,
  path: DataPath = defaultDataPath,
  startup: SpliceStartup | null = null,
): void {
  if (path === 'handles') spliceWithHandles(client, server, counter, onClose, startup);
  else spliceWithStreams(client, server, counter, onClose, startup);
}
