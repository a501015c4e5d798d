/**
 * The test harness: a real PostgreSQL cluster (primary + streaming replicas, random loopback ports,
 * scram passwords) per test file, plus network faults. Never a mocked pg.
 *
 * @example
 * let cluster: TestCluster;
 * beforeAll(async () => { cluster = await startTestCluster({ replicas: 2 }); });
 * afterAll(() => cluster.close());
 */
import { createServer, type Server, type Socket } from 'node:net';
import { type EmbeddedCluster, type EmbeddedClusterOptions, freePort, startEmbeddedCluster } from '../../shared/embedded/index.ts';

export type TestCluster = EmbeddedCluster;

export function startTestCluster(options: EmbeddedClusterOptions = {}): Promise<TestCluster> {
  return startEmbeddedCluster({ replicas: 2, ...options, persistent: false });
}

export interface Blackhole {
  readonly port: number;
  readonly url: (user?: string, password?: string) => string;
  /** Sockets accepted so far (each is held open, never answered). */
  readonly accepted: () => number;
  close(): Promise<void>;
}

/** A TCP listener that accepts connections and never answers: what a hung host or a dropped route looks like. */
export async function blackhole(): Promise<Blackhole> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    url: (user = 'postgres', password = 'blackhole-password') => `postgres://${user}:${password}@127.0.0.1:${port}/postgres`,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port with nothing listening (connect is refused at once). */
export function closedPort(): Promise<number> {
  return freePort();
}
