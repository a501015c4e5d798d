/**
 * The persistent (demo) cluster's memory across runs: `cluster.json` in `baseDir` keeps the password, the ports
 * and each node's current role, so a restart finds the primary it left.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import type { Credentials, EmbeddedNode, EmbeddedRole } from './types.ts';

/** The content of `cluster.json`. */
export interface SavedState {
  user: string;
  password: string;
  nodes: Array<{ name: string; port: number; role: EmbeddedRole }>;
}

/** The saved state, when there is one that fits a cluster of `nodeCount` nodes run by `user`. */
export async function readSavedState(stateFile: string, nodeCount: number, user: string): Promise<SavedState | undefined> {
  if (!existsSync(stateFile)) return undefined;
  const saved = JSON.parse(await readFile(stateFile, 'utf8')) as SavedState;
  if (saved.nodes.length !== nodeCount || saved.user !== user) return undefined;
  return saved;
}

/** The persistent cluster's `cluster.json`, kept current by role changes. */
export interface StateFile {
  /** Writes the current roles (a no-op unless persistent). */
  save(): Promise<void>;
  /** True once `save` has written the file. */
  readonly saved: boolean;
}

/** Keeps `stateFile` up to date with `nodes` for a persistent cluster; does nothing for a throwaway one. */
export function createStateFile(
  stateFile: string,
  persistent: boolean,
  credentials: Credentials,
  nodes: readonly EmbeddedNode[],
): StateFile {
  let saved = false;
  return {
    async save() {
      if (!persistent) return;
      const state: SavedState = {
        user: credentials.user,
        password: credentials.password,
        nodes: nodes.map((n) => ({ name: n.name, port: n.port, role: n.role })),
      };
      await writeFile(stateFile, JSON.stringify(state, null, 2), { mode: 0o600 });
      saved = true;
    },
    get saved() {
      return saved;
    },
  };
}
