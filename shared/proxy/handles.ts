/**
 * Node's TCP handles without `net.Socket` around them (the `stream_wrap` and `tcp_wrap` bindings, see splice.ts's
 * module comment): connecting to a node, taking over accepted clients, and the first read of a client.
 */
import { isIP, type Server, Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';

export interface RawHandle {
  useUserBuffer(buffer: Uint8Array): void;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: RawWriteReq, data: Uint8Array): number;
  shutdown(req: RawShutdownReq): number;
  /** With `useUserBuffer`, called with no argument; without, with the ArrayBuffer read into. */
  onread: ((this: RawHandle, arrayBuffer?: ArrayBuffer) => void) | null;
}

export interface RawWriteReq {
  handle: RawHandle;
  oncomplete: (status: number) => void;
  buffer?: Uint8Array;
}

export interface RawShutdownReq {
  handle: RawHandle;
  oncomplete: (status: number) => void;
}

export interface StreamWrapBinding {
  WriteWrap: new () => RawWriteReq;
  ShutdownWrap: new () => RawShutdownReq;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
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

export const streamWrap = loadStreamWrap();

export interface RawTcpHandle extends RawHandle {
  connect(req: RawConnectReq, address: string, port: number): number;
  connect6(req: RawConnectReq, address: string, port: number): number;
  setNoDelay(enable: boolean): number;
  setKeepAlive(enable: boolean, delaySeconds: number): number;
  close(callback: () => void): void;
}

export interface RawConnectReq {
  oncomplete: (status: number) => void;
}

export interface TcpWrapBinding {
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

export const tcpWrap = streamWrap ? loadTcpWrap() : null;

/** libuv's end of stream (`UV_EOF`), as a read reports it. */
export const UV_EOF = -4095;

export function handleOf(socket: Socket): RawHandle | null {
  const handle = (socket as unknown as { _handle?: RawHandle | null })._handle;
  return handle && typeof handle.useUserBuffer === 'function' && typeof handle.writeBuffer === 'function' ? handle : null;
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
 * Reads a client's first packet before a node is chosen for it (backend-key.ts: a CancelRequest goes where its key
 * was issued). `complete` says when enough is read; reading then stops, so later bytes stay in the kernel for the
 * splice. `done` gets what was read (`ended`: the client's FIN came before the packet was whole, so the splice must
 * pass it on), or null when the client left before sending anything or failed. On the bare handle where
 * there is one (its own `onread`, restored after: a `net.Socket` over it never sees these reads), else through the
 * Socket's 'data' events (what is read beyond stays in its buffer for the streams splice). Returns a function
 * that stops waiting (then `done` is not called).
 */
export function readFirstPacket(
  client: Socket | RawLink,
  complete: (head: Buffer) => boolean,
  done: (head: Buffer | null, ended: boolean) => void,
): () => void {
  let head: Buffer | null = null;
  const add = (chunk: Uint8Array) => {
    head = head === null ? Buffer.from(chunk) : Buffer.concat([head, chunk]);
    return complete(head);
  };
  const handle = client instanceof Socket ? handleOf(client) : client.handle;
  if (handle && streamWrap) {
    const { streamBaseState, kReadBytesOrError, kArrayBufferOffset } = streamWrap;
    // A bare client's handle has none; the handle takes only a function (the splice or a Socket sets its own).
    const previous = handle.onread ?? (() => {});
    const stop = () => {
      handle.readStop();
      handle.onread = previous;
    };
    handle.onread = (arrayBuffer?: ArrayBuffer) => {
      const nread = streamBaseState[kReadBytesOrError] as number;
      if (nread > 0 && arrayBuffer) {
        if (!add(new Uint8Array(arrayBuffer, streamBaseState[kArrayBufferOffset] as number, nread))) return;
        stop();
        done(head, false);
      } else if (nread < 0) {
        stop();
        done(nread === UV_EOF ? head : null, true);
      }
    };
    handle.readStart();
    return stop;
  }
  const socket = client as Socket;
  const stop = () => {
    socket.pause();
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.removeListener('close', onEnd);
  };
  const onData = (chunk: Buffer) => {
    if (!add(chunk)) return;
    stop();
    done(head, false);
  };
  const onEnd = () => {
    stop();
    done(socket.errored ? null : head, true);
  };
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.once('close', onEnd);
  socket.resume();
  return stop;
}
