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
import { isIP, type Server, Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';

/** Plain counters the splice adds to; summed into metrics at scrape time. */
export interface ByteCounter {
  /** Client → node. */
  bytesIn: number;
  /** Node → client. */
  bytesOut: number;
}

/** Splices `client` and `server` both ways with 'data' events and `write()` (the portable path); `onClose` runs once when both are gone. */
function spliceWithStreams(client: Socket, server: Socket, counter: ByteCounter, onClose: () => void): void {
  const { closedOne } = spliceLifecycle(client, server, onClose);
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

interface RawHandle {
  useUserBuffer(buffer: Uint8Array): void;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: RawWriteReq, data: Uint8Array): number;
  shutdown(req: RawShutdownReq): number;
  onread: ((this: RawHandle) => void) | null;
}

interface RawWriteReq {
  handle: RawHandle;
  oncomplete: (status: number) => void;
  buffer?: Uint8Array;
}

interface RawShutdownReq {
  handle: RawHandle;
  oncomplete: (status: number) => void;
}

interface StreamWrapBinding {
  WriteWrap: new () => RawWriteReq;
  ShutdownWrap: new () => RawShutdownReq;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
}

function loadStreamWrap(): StreamWrapBinding | null {
  try {
    const binding = (process as unknown as { binding(name: string): unknown }).binding('stream_wrap') as Partial<StreamWrapBinding>;
    if (
      typeof binding.WriteWrap !== 'function' ||
      typeof binding.ShutdownWrap !== 'function' ||
      !binding.streamBaseState ||
      binding.kReadBytesOrError === undefined
    )
      return null;
    return binding as StreamWrapBinding;
  } catch {
    return null;
  }
}

const streamWrap = loadStreamWrap();

interface RawTcpHandle extends RawHandle {
  connect(req: RawConnectReq, address: string, port: number): number;
  connect6(req: RawConnectReq, address: string, port: number): number;
  setNoDelay(enable: boolean): number;
  setKeepAlive(enable: boolean, delaySeconds: number): number;
  close(callback: () => void): void;
}

interface RawConnectReq {
  oncomplete: (status: number) => void;
}

interface TcpWrapBinding {
  TCP: new (type: number) => RawTcpHandle;
  TCPConnectWrap: new () => RawConnectReq;
  constants: { SOCKET: number };
}

function loadTcpWrap(): TcpWrapBinding | null {
  try {
    const binding = (process as unknown as { binding(name: string): unknown }).binding('tcp_wrap') as Partial<TcpWrapBinding>;
    if (typeof binding.TCP !== 'function' || typeof binding.TCPConnectWrap !== 'function' || !binding.constants) return null;
    return binding as TcpWrapBinding;
  } catch {
    return null;
  }
}

const tcpWrap = streamWrap ? loadTcpWrap() : null;

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

/** libuv's end of stream (`UV_EOF`), as a read reports it. */
const UV_EOF = -4095;

function handleOf(socket: Socket): RawHandle | null {
  const handle = (socket as unknown as { _handle?: RawHandle | null })._handle;
  return handle && typeof handle.useUserBuffer === 'function' && typeof handle.writeBuffer === 'function' ? handle : null;
}

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
): void {
  const { WriteWrap, ShutdownWrap, streamBaseState, kReadBytesOrError, kLastWriteWasAsync } = streamWrap as StreamWrapBinding;
  /** Directions that have seen their source's EOF; the second one ends the splice. */
  let ended = 0;
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
    source.onread = () => {
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
        const shutdown = new ShutdownWrap();
        shutdown.handle = target;
        shutdown.oncomplete = (status) => {
          if (status < 0) finish();
        };
        if (target.shutdown(shutdown) !== 0) finish();
      } else if (nread < 0) {
        finish();
      }
    };
    source.readStart();
  };
  wire(clientHandle, serverHandle, true);
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
function spliceWithHandles(client: Socket, server: Socket, counter: ByteCounter, onClose: () => void): void {
  const clientHandle = handleOf(client);
  const serverHandle = handleOf(server);
  if (!streamWrap || !clientHandle || !serverHandle) {
    spliceWithStreams(client, server, counter, onClose);
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
  wireHandles(clientHandle, serverHandle, counter, finish, finished, buffers);
}

/** A connection to a node: a `net.Socket`, or a bare TCP handle (`connectBackend`). */
export interface BackendLink {
  /** Closes it, connected or not, spliced or not. Idempotent. */
  destroy(): void;
}

/** A connection on a bare TCP handle: a node (`connectBackend`) or an accepted client (`takeOverConnections`). */
export interface RawLink extends BackendLink {
  readonly handle: RawTcpHandle;
  /** Runs once the handle is closed; the splice sets its own. */
  onClosed: (() => void) | null;
  /** `destroy()` was called, or the handle was handed to a `net.Socket` (`socketFor`). */
  readonly closing: boolean;
}

function rawLink(handle: RawTcpHandle): RawLink & { closing: boolean } {
  const link = {
    handle,
    onClosed: null as (() => void) | null,
    closing: false,
    destroy() {
      if (link.closing) return;
      link.closing = true;
      handle.close(() => link.onClosed?.());
    },
  };
  return link;
}

/**
 * Connects to `host:port` (an IP address) on a bare TCP handle, with no-delay and keep-alive as `net.connect`
 * would set them. Per new client this skips what `net.connect` does besides the connect(2): a `net.Socket` with
 * its stream state, the `lookupAndConnect` and `afterConnect` ticks and events, and `destroy()`'s. `done` gets
 * null once connected, or the error code (`ECONNREFUSED`, …); never after `destroy()`. Returns null when the
 * runtime lacks the binding or `host` is a name: use `net.connect` then.
 */
export function connectBackend(host: string, port: number, done: (error: string | null) => void): RawLink | null {
  const family = isIP(host);
  if (!tcpWrap || family === 0) return null;
  const handle = new tcpWrap.TCP(tcpWrap.constants.SOCKET);
  const backend = rawLink(handle);
  const req = new tcpWrap.TCPConnectWrap();
  req.oncomplete = (status: number) => {
    if (backend.closing) return;
    if (status < 0) return done(getSystemErrorName(status));
    handle.setNoDelay(true);
    handle.setKeepAlive(true, 0);
    done(null);
  };
  const status = family === 6 ? handle.connect6(req, host, port) : handle.connect(req, host, port);
  if (status < 0) process.nextTick(() => req.oncomplete(status));
  return backend;
}

/**
 * Makes a listening `net.Server` hand over accepted connections as bare TCP handles instead of `net.Socket`s
 * (replacing its handle's `onconnection`, which is where net builds the Socket). Per new client this skips the
 * Socket's construction, its stream state and its `destroy()` ticks; `socketFor` builds one for the rare client
 * that needs the streams API (a refusal). The server still closes as usual. False (nothing changed) when the
 * runtime lacks the bindings or the server is not listening on a TCP handle: keep its 'connection' events then.
 */
export function takeOverConnections(server: Server, onClient: (client: RawLink) => void): boolean {
  if (!tcpWrap || !streamWrap) return false;
  const handle = (server as unknown as { _handle?: { onconnection?: unknown } | null })._handle;
  if (!handle || typeof handle.onconnection !== 'function') return false;
  handle.onconnection = (status: number, client: RawTcpHandle | undefined) => {
    // A failed accept (EMFILE, …) leaves nothing to close; net would emit 'error' on the server for it.
    if (status < 0 || !client) return;
    onClient(rawLink(client));
  };
  return true;
}

/**
 * A paused `net.Socket` over a raw client's handle, for the streams API (writing a refusal). The link no longer
 * owns the handle: `destroy()` on it does nothing, close the Socket.
 */
export function socketFor(client: RawLink): Socket {
  (client as RawLink & { closing: boolean }).closing = true;
  return new Socket({ handle: client.handle as never, readable: true, writable: true, pauseOnCreate: true } as never);
}

/** Sets no-delay and keep-alive on a raw client as `net` does for `noDelay: true` and `setKeepAlive(true, ms)`. */
export function tuneClient(client: RawLink, keepAliveMs: number): void {
  client.handle.setNoDelay(true);
  client.handle.setKeepAlive(true, Math.floor(keepAliveMs / 1000));
}

/**
 * Splices a paused client (a `net.Socket`, or a raw client from `takeOverConnections`) with a connected
 * bare-handle backend (`connectBackend`). Closing either (`destroy()`) ends the splice; `onClose` runs once both
 * are closed.
 */
export function spliceWithBackend(client: Socket | RawLink, backend: RawLink, counter: ByteCounter, onClose: () => void): void {
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
  wireHandles(clientHandle, backend.handle, counter, finish, finished, buffers);
}

/** Splices with the given data path (default: the fastest this runtime supports). */
export function spliceSockets(
  client: Socket,
  server: Socket,
  counter: ByteCounter,
  onClose: () => void,
  path: DataPath = defaultDataPath,
): void {
  if (path === 'handles') spliceWithHandles(client, server, counter, onClose);
  else spliceWithStreams(client, server, counter, onClose);
}
