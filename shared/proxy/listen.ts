/** Binding the proxy's servers (the two listeners and the HTTP API) with one error shape. */
import type { Server } from 'node:net';
import { ProxyListenError } from './errors.ts';

/**
 * Listens on `host:port`, or rejects with a `ProxyListenError` that names `what` could not bind. `reusePort`
 * (SO_REUSEPORT, Linux): several threads bind the same port and the kernel spreads connections over them.
 */
export function listen(server: Server, port: number, host: string, what: string, reusePort = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) =>
      reject(new ProxyListenError(`${what}: cannot listen on ${host}:${port}: ${error.message}`, port, { cause: error }));
    server.once('error', onError);
    server.listen({ port, host, reusePort }, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
}

/** The port a server is bound to (0 before it listens). */
export function boundPort(server: Server): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}
