/**
 * issue 7: every deployed bundle stays small and quick to load, because a Lambda cold start pays for both.
 * Size per bundle (≤ 1 MB minified; topology, which carries the Kubernetes client, ≤ 1.6 MB) and the time a
 * fresh `node` process takes to import it (≤ 150 ms; topology ≤ 250 ms), next to the time the same kind of process
 * takes to import an empty ES module, measured in the same run. The bundles are built fresh (infra/build.ts, the
 * options that ship) into a temporary folder. The proxy's container bundle is sized only.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BundleResult, buildBundles, discoverEntries } from '../infra/build.ts';
import type { Bench, BenchRow } from './run.ts';

const MB = 1024 * 1024;
const ROUNDS = 5;
const SIZE_TARGET: Record<string, number> = { topology: 1.6 * MB };
const IMPORT_TARGET_MS: Record<string, number> = { topology: 250 };
const DEFAULT_SIZE_TARGET = 1 * MB;
const DEFAULT_IMPORT_TARGET_MS = 150;
/**
 * Container programs, not Lambda modules: importing one runs it (the proxy binds its ports), and a container pays
 * no per-invocation cold start, so its size is reported without a target.
 */
const CONTAINER_BUNDLES = new Set(['ha-proxy']);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

// Times only the import inside the child (not node's own start-up), then exits even if the module left handles open.
const PROBE = `
const url = process.argv[1];
const started = performance.now();
let error;
try { await import(url); } catch (e) { error = e instanceof Error ? e.message : String(e); }
process.stdout.write(JSON.stringify({ ms: performance.now() - started, error }));
process.exit(0);
`;

function importOnce(file: string): Promise<{ ms: number; error?: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', PROBE, pathToFileURL(file).href],
      // An empty environment but PATH: the module meets no AWS or pgwarden settings, as on a fresh cold start.
      { env: { PATH: process.env.PATH }, timeout: 30_000, cwd: tmpdir() },
      (error, stdout) => {
        if (error) reject(error);
        else resolve(JSON.parse(stdout) as { ms: number; error?: string });
      },
    );
  });
}

async function importTime(file: string): Promise<{ ms: number; error?: string }> {
  const runs: number[] = [];
  let error: string | undefined;
  for (let i = 0; i < ROUNDS; i++) {
    const run = await importOnce(file);
    runs.push(run.ms);
    error ??= run.error;
  }
  return { ms: median(runs), error };
}

function sizeRow(bundle: BundleResult): BenchRow {
  const value = Number((bundle.bytes / MB).toFixed(3));
  if (CONTAINER_BUNDLES.has(bundle.name)) {
    return { metric: `${bundle.name} bundle size`, value, unit: 'MB', note: 'container image: no Lambda cold start, no target' };
  }
  const target = SIZE_TARGET[bundle.name] ?? DEFAULT_SIZE_TARGET;
  return {
    metric: `${bundle.name} bundle size`,
    value,
    unit: 'MB',
    target: `≤ ${target / MB} MB`,
    pass: bundle.bytes <= target,
  };
}

export default {
  name: 'function bundles: size and cold import',
  async run() {
    const entries = discoverEntries();
    if (Object.keys(entries).length === 0) {
      return [
        { metric: 'bundles', value: 0, unit: 'bundles', note: 'nothing to bundle yet: no functions/*.ts, no tasks/ha-proxy/main.ts' },
      ];
    }
    const outdir = mkdtempSync(join(tmpdir(), 'pgwarden-bundles-'));
    try {
      const bundles = (await buildBundles({ outdir, entries })).sort((a, b) => a.name.localeCompare(b.name));
      const empty = join(outdir, 'empty.mjs');
      writeFileSync(empty, 'export {};\n');
      const baseline = await importTime(empty);

      const rows: BenchRow[] = [];
      for (const bundle of bundles) {
        rows.push(sizeRow(bundle));
        if (CONTAINER_BUNDLES.has(bundle.name)) continue;
        const target = IMPORT_TARGET_MS[bundle.name] ?? DEFAULT_IMPORT_TARGET_MS;
        const measured = await importTime(bundle.outfile);
        rows.push({
          metric: `${bundle.name} cold import`,
          value: Number(measured.ms.toFixed(1)),
          unit: 'ms',
          baseline: Number(baseline.ms.toFixed(2)),
          ratio: measured.ms / baseline.ms,
          target: `≤ ${target} ms`,
          pass: measured.ms <= target && measured.error === undefined,
          note: [
            `median of ${ROUNDS} fresh processes; ${(measured.ms - baseline.ms).toFixed(1)} ms over an empty module`,
            measured.error ? `import threw: ${measured.error}` : '',
          ]
            .filter(Boolean)
            .join('; '),
        });
      }
      return rows;
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  },
} satisfies Bench;
