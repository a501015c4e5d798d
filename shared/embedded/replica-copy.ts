/**
 * Standbys without pg_basebackup (the package does not ship it): a copy of the cleanly stopped primary's data
 * directory, plus `standby.signal` and a `primary_conninfo` that follows the latest timeline.
 */
import { chmod, cp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { confString, primaryConninfo } from './conninfo.ts';
import { chownRecursive } from './host.ts';
import type { Credentials, EmbeddedNode, RunAs } from './types.ts';

/**
 * Makes `standby`'s data directory (a copy of a primary's, or a former primary's own) start as a standby of
 * `primary`, and hands it to the server's OS user.
 */
export async function configureStandby(
  standby: EmbeddedNode,
  primary: EmbeddedNode,
  credentials: Credentials,
  runAs: RunAs,
): Promise<void> {
  await writeFile(path.join(standby.dataDir, 'standby.signal'), '');
  await writeFile(
    path.join(standby.dataDir, 'postgresql.auto.conf'),
    `primary_conninfo = ${confString(primaryConninfo(primary, standby, credentials))}\nrecovery_target_timeline = 'latest'\n`,
  );
  await chownRecursive(standby.dataDir, runAs);
}

/** Creates `replica`'s data directory from the stopped `primary`'s, as a standby of it. */
export async function copyReplica(primary: EmbeddedNode, replica: EmbeddedNode, credentials: Credentials, runAs: RunAs): Promise<void> {
  await cp(primary.dataDir, replica.dataDir, { recursive: true });
  await rm(path.join(replica.dataDir, 'server.log'), { force: true });
  await rm(path.join(replica.dataDir, 'postmaster.pid'), { force: true });
  await configureStandby(replica, primary, credentials, runAs);
  await chmod(replica.dataDir, 0o700);
}
