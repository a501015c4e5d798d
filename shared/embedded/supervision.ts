/**
 * Process supervision of the embedded cluster's postmasters: spawning `postgres`, waiting until it answers,
 * clean stop and crash (kill), and the role changes done through a running server (promote, follow, rejoin).
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../log/index.ts';
import { nodeUrl, primaryConninfo } from './conninfo.ts';
import { configureStandby } from './replica-copy.ts';
import type { Binaries, Credentials, EmbeddedNode, RunAs } from './types.ts';

/** What the supervisor needs to spawn a node and to talk to it as the superuser. */
export interface SupervisorOptions {
  readonly bin: Binaries;
  readonly runAs: RunAs;
  readonly credentials: Credentials;
  /** How long a node may take to answer after its spawn. */
  readonly startTimeoutMs: number;
  readonly logger: Logger;
  /** Records a role change (the persistent cluster's `cluster.json`). */
  saveState(): Promise<void>;
}

/** What can be done to one node's server; the cluster resolves node names before calling. */
export interface Supervisor {
  start(node: EmbeddedNode): Promise<void>;
  stop(node: EmbeddedNode): Promise<void>;
  kill(node: EmbeddedNode): Promise<void>;
  promote(node: EmbeddedNode): Promise<void>;
  follow(replica: EmbeddedNode, primary: EmbeddedNode): Promise<void>;
  rejoin(node: EmbeddedNode, primary: EmbeddedNode): Promise<void>;
  isRunning(node: EmbeddedNode): boolean;
}

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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The supervisor of one cluster's nodes; installs the exit hook that kills every postmaster it started. */
export function createSupervisor(options: SupervisorOptions): Supervisor {
  installExitHook();
  const start = (node: EmbeddedNode) => startPostmaster(options, node);
  return {
    start,
    stop: stopPostmaster,
    kill: killPostmaster,
    promote: (node) => promote(options, node),
    follow: (replica, primary) => follow(options, replica, primary),
    async rejoin(node, primary) {
      if (node.process) await stopPostmaster(node);
      await configureStandby(node, primary, options.credentials, options.runAs);
      node.role = 'replica';
      await start(node);
      await options.saveState();
    },
    isRunning: (node) => node.process !== undefined && node.process.exitCode === null && node.process.signalCode === null,
  };
}

async function startPostmaster(options: SupervisorOptions, node: EmbeddedNode): Promise<void> {
  if (node.process && node.process.exitCode === null) return;
  const { runAs } = options;
  await stopOrphan(node, options.logger);
  const logPath = path.join(node.dataDir, 'server.log');
  const logFd = openSync(logPath, 'a');
  if (runAs.uid !== undefined) execFileSync('chown', [`${runAs.uid}:${runAs.gid}`, logPath]);
  const child = spawn(options.bin.postgres, ['-D', node.dataDir, '-p', String(node.port)], {
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
  await waitReady(options, node, false);
  options.logger.debug('embedded postgres started', { node: node.name, port: node.port });
}

async function waitReady(options: SupervisorOptions, node: EmbeddedNode, writable: boolean): Promise<void> {
  const deadline = Date.now() + options.startTimeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (!node.process || node.process.exitCode !== null) {
      throw new Error(`postgres ${node.name} exited during start (see ${path.join(node.dataDir, 'server.log')})`, { cause: lastError });
    }
    const client = new pg.Client({ connectionString: nodeUrl(node, options.credentials), connectionTimeoutMillis: 1000 });
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
  throw new Error(`postgres ${node.name} on port ${node.port} did not become ready within ${options.startTimeoutMs} ms`, {
    cause: lastError,
  });
}

/**
 * A postmaster left running on this data directory by a process that was killed (kill -9 skips every
 * cleanup) would make the new one refuse to start: stop it first. Only a live `postgres` process whose
 * postmaster.pid names this very directory is touched.
 */
async function stopOrphan(node: EmbeddedNode, logger: Logger): Promise<void> {
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
}

async function stopPostmaster(node: EmbeddedNode): Promise<void> {
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
}

async function killPostmaster(node: EmbeddedNode): Promise<void> {
  if (!node.process) return;
  const pid = node.process.pid;
  groupKill(node, 'SIGKILL');
  await waitExit(node, 5_000);
  await waitGroupGone(pid);
  node.process = undefined;
}

async function waitExit(node: EmbeddedNode, timeoutMs: number): Promise<boolean> {
  const child = node.process;
  if (!child || child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function groupKill(node: EmbeddedNode, signal: NodeJS.Signals): void {
  const pid = node.process?.pid;
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Waits until no process of the node's group is left (backends outlive a SIGKILLed postmaster briefly). */
async function waitGroupGone(pid: number | undefined): Promise<void> {
  if (!pid) return;
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(-pid, 0);
    } catch {
      return;
    }
    await sleep(25);
  }
}

async function withAdminClient<T>(options: SupervisorOptions, node: EmbeddedNode, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: nodeUrl(node, options.credentials), connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

async function promote(options: SupervisorOptions, node: EmbeddedNode): Promise<void> {
  await withAdminClient(options, node, async (client) => {
    const { rows } = await client.query<{ promoted: boolean }>('select pg_promote(true, 30) as promoted');
    if (!rows[0]?.promoted) throw new Error(`pg_promote() on ${node.name} did not complete`);
  });
  node.role = 'primary';
  await options.saveState();
}

async function follow(options: SupervisorOptions, replica: EmbeddedNode, primary: EmbeddedNode): Promise<void> {
  await withAdminClient(options, replica, async (client) => {
    await client.query(
      `alter system set primary_conninfo = ${client.escapeLiteral(primaryConninfo(primary, replica, options.credentials))}`,
    );
    await client.query("alter system set recovery_target_timeline = 'latest'");
    await client.query('select pg_reload_conf()');
  });
}
