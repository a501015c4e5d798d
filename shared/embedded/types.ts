/** The embedded cluster's shapes, shared by its parts (initdb, replica copy, supervision) and its callers. */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../log/index.ts';

export type EmbeddedRole = 'primary' | 'replica';

/** One node of the embedded cluster: its port, data directory, current role and postmaster. */
export interface EmbeddedNode {
  readonly name: string;
  readonly port: number;
  readonly dataDir: string;
  /** The role the node was created with; after `promote` it is `primary`. */
  role: EmbeddedRole;
  /** The running postmaster, if any. */
  process: ChildProcess | undefined;
}

/** Options of `startEmbeddedCluster`; every one has a default. */
export interface EmbeddedClusterOptions {
  /** Folder that holds one data directory per node. Default: a fresh folder under the OS temp dir. */
  baseDir?: string;
  /** Number of streaming replicas. Default 2. */
  replicas?: number;
  /** Superuser name. Default `postgres`. */
  user?: string;
  /** Superuser password. Default: random. */
  password?: string;
  /** Fixed ports, primary first. Default: free loopback ports. */
  ports?: number[];
  /** Extra server settings, written to every node's postgresql.conf (e.g. `{ max_connections: 20 }`). */
  settings?: Record<string, string | number | boolean>;
  /** Keep data directories on `close()` (the demo cluster). Default false: `close()` removes `baseDir`. */
  persistent?: boolean;
  /** Per-node start timeout. Default 30 s. */
  startTimeoutMs?: number;
  logger?: Logger;
}

/** A running embedded cluster, and what tests and `pgwarden dev` do to its nodes. */
export interface EmbeddedCluster {
  readonly nodes: readonly EmbeddedNode[];
  readonly user: string;
  readonly password: string;
  readonly baseDir: string;
  node(name: string): EmbeddedNode;
  /** The node currently started as primary (by role bookkeeping, not by asking the server). */
  primary(): EmbeddedNode;
  replicas(): EmbeddedNode[];
  /** `postgres://user:password@127.0.0.1:port/database` for a node. */
  url(node: EmbeddedNode | string, options?: UrlOptions): string;
  /** Clean ("fast") shutdown of one node. */
  stop(node: EmbeddedNode | string): Promise<void>;
  /** SIGKILL of the node's whole process group: a crash. */
  kill(node: EmbeddedNode | string): Promise<void>;
  start(node: EmbeddedNode | string): Promise<void>;
  /** `pg_promote()` on a replica; resolves once it accepts writes. */
  promote(node: EmbeddedNode | string): Promise<void>;
  /** Points a replica at another primary (`primary_conninfo` reload; follows the latest timeline). */
  follow(replica: EmbeddedNode | string, primary: EmbeddedNode | string): Promise<void>;
  /**
   * Turns a stopped former primary into a standby of `primary` and starts it. Works after a clean stop (the
   * standby received everything up to the shutdown checkpoint); a crashed primary may have diverged and needs
   * pg_rewind, which the package does not ship.
   */
  rejoin(node: EmbeddedNode | string, primary: EmbeddedNode | string): Promise<void>;
  isRunning(node: EmbeddedNode | string): boolean;
  /** Stops every node; removes the data unless `persistent`. Idempotent. */
  close(): Promise<void>;
}

/** Who to connect as, in place of the cluster's superuser, and to which database. */
export interface UrlOptions {
  database?: string;
  user?: string;
  password?: string;
}

/** The cluster's superuser, which every node and every standby's `primary_conninfo` uses. */
export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** The package's server binaries, as paths the server's OS user can reach. */
export interface Binaries {
  initdb: string;
  postgres: string;
}

/** The OS user the server runs as: empty unless we are root (then the `postgres` user). */
export interface RunAs {
  uid?: number;
  gid?: number;
}
