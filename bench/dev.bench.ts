/**
 * issue 7: `npm start` to the first completed watchdog check, on an existing `.pgwarden/` (the second start of
 * the same data folder). The baseline, measured in the same run, is starting the same embedded clusters alone:
 * the ratio says what the rest of the system (queue, handlers, proxy, first round of checks) adds.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedCluster } from '../shared/embedded/index.ts';
import type { Bench } from './run.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Starts `pgwarden dev`, resolves with the ms until the first watchdog line, then stops it with SIGINT. */
function timeToFirstCheck(dataDir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(path.join(ROOT, 'node_modules/.bin/node'), [path.join(ROOT, 'bin/pgwarden.ts'), 'dev', '--data-dir', dataDir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    let elapsed: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (elapsed === undefined && /\bwatchdog\s+cluster=/.test(out)) {
        elapsed = performance.now() - started;
        child.kill('SIGINT');
      }
    });
    child.on('exit', () => (elapsed === undefined ? reject(new Error(`pgwarden dev stopped before a check:\n${out}`)) : resolve(elapsed)));
    setTimeout(() => child.kill('SIGKILL'), 120_000).unref();
  });
}

const bench: Bench = {
  name: 'npm start: to the first completed watchdog check',
  async run() {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'pgwarden-bench-dev-'));
    chmodSync(dataDir, 0o755);
    try {
      const cold = await timeToFirstCheck(dataDir); // creates .pgwarden/ (initdb, base copies)
      const warm: number[] = [];
      const clustersOnly: number[] = [];
      for (let i = 0; i < 3; i++) {
        warm.push(await timeToFirstCheck(dataDir));
        const started = performance.now();
        const demo = await startEmbeddedCluster({
          baseDir: path.join(dataDir, 'cluster'),
          persistent: true,
          replicas: 2,
          settings: { max_connections: 40 },
        });
        const control = await startEmbeddedCluster({ baseDir: path.join(dataDir, 'control'), persistent: true, replicas: 0 });
        clustersOnly.push(performance.now() - started);
        await Promise.all([demo.close(), control.close()]);
      }
      const median = (v: number[]) => [...v].sort((a, b) => a - b)[1] as number;
      const value = median(warm);
      return [
        {
          metric: 'first check, existing .pgwarden/',
          value: value / 1000,
          unit: 's',
          baseline: median(clustersOnly) / 1000,
          ratio: value / median(clustersOnly),
          target: '≤ 10 s',
          pass: value <= 10_000,
          note: `median of 3; baseline = starting the same embedded clusters alone; first start (initdb) took ${(cold / 1000).toFixed(1)} s`,
        },
      ];
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};

export default bench;
