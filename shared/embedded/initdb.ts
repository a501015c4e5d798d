/**
 * A new cluster from nothing: `initdb` of the primary with the final settings, started once and stopped cleanly
 * (the template every replica is copied from), then one copy per replica.
 */
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chownRecursive, run } from './host.ts';
import { copyReplica } from './replica-copy.ts';
import type { Supervisor } from './supervision.ts';
import type { Binaries, Credentials, EmbeddedNode, RunAs } from './types.ts';

/** Server settings of every node; `EmbeddedClusterOptions.settings` adds to them and overrides them. */
export const DEFAULT_SETTINGS: Record<string, string | number | boolean> = {
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

/** What `initialiseCluster` needs: where, which nodes, as whom, with which settings and binaries. */
export interface InitialiseOptions {
  readonly baseDir: string;
  /** Primary first, as `startEmbeddedCluster` lays them out. */
  readonly nodes: readonly EmbeddedNode[];
  readonly credentials: Credentials;
  readonly settings: Record<string, string | number | boolean>;
  readonly bin: Binaries;
  readonly runAs: RunAs;
  readonly supervisor: Supervisor;
}

/** Wipes `baseDir` and creates every node's data directory: the primary by initdb, each replica as its copy. */
export async function initialiseCluster(options: InitialiseOptions): Promise<void> {
  const primary = options.nodes[0] as EmbeddedNode;
  await initdbPrimary(options, primary);
  // Start once with the final settings and stop cleanly: pg_control records max_connections & co., and a
  // standby configured lower than recorded refuses to start.
  await options.supervisor.start(primary);
  await options.supervisor.stop(primary);
  for (const replica of options.nodes.slice(1)) {
    await copyReplica(primary, replica, options.credentials, options.runAs);
  }
}

async function initdbPrimary(options: InitialiseOptions, primary: EmbeddedNode): Promise<void> {
  const { baseDir, runAs } = options;
  await rm(baseDir, { recursive: true, force: true });
  await mkdir(baseDir, { recursive: true });
  await chmod(baseDir, 0o755);
  const pwFile = path.join(baseDir, '.pwfile');
  await writeFile(pwFile, `${options.credentials.password}\n`, { mode: 0o600 });
  await chownRecursive(baseDir, runAs);
  try {
    await run(
      options.bin.initdb,
      [
        `--pgdata=${primary.dataDir}`,
        '--auth=scram-sha-256',
        `--username=${options.credentials.user}`,
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
  const confPath = path.join(primary.dataDir, 'postgresql.conf');
  await writeFile(confPath, `${await readFile(confPath, 'utf8')}\n# pgwarden embedded cluster\n${settingsText(options.settings)}\n`);
}

function settingsText(settings: Record<string, string | number | boolean>): string {
  return Object.entries(settings)
    .map(([key, value]) => `${key} = ${typeof value === 'boolean' ? (value ? 'on' : 'off') : value}`)
    .join('\n');
}
