/**
 * `npm run bench [-- name…]`: runs every bench/*.bench.ts (or the named ones) one after another and prints
 * each measurement with the baseline measured in the same run, the ratio and the target. These machines are
 * noisy, so every target is a ratio against a baseline taken minutes apart at most, never an absolute time.
 * Exits 1 when a target was missed, so the numbers are a check and not only a report.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchRow {
  metric: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
  target?: string;
  pass?: boolean;
  note?: string;
}

export interface Bench {
  name: string;
  run: () => Promise<BenchRow[]>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();

const fmt = (n: number | undefined, digits = 2) => (n === undefined ? '' : Number.isInteger(n) ? String(n) : n.toFixed(digits));
let missed = 0;
let met = 0;
for (const file of files) {
  const bench = (await import(path.join(here, file))).default as Bench;
  process.stdout.write(`\n## ${bench.name} (${file})\n`);
  const started = performance.now();
  let rows: BenchRow[];
  try {
    rows = await bench.run();
  } catch (error) {
    process.stdout.write(`  FAILED to run: ${(error as Error).stack ?? String(error)}\n`);
    missed++;
    continue;
  }
  for (const row of rows) {
    const verdict = row.pass === undefined ? '' : row.pass ? 'PASS' : 'MISS';
    if (row.pass === true) met++;
    if (row.pass === false) missed++;
    const parts = [
      `  ${row.metric}: ${fmt(row.value)} ${row.unit}`,
      row.baseline !== undefined ? `baseline ${fmt(row.baseline)}` : '',
      row.ratio !== undefined ? `ratio ${fmt(row.ratio, 3)}` : '',
      row.target ? `target ${row.target}` : '',
      verdict,
      row.note ? `(${row.note})` : '',
    ].filter(Boolean);
    process.stdout.write(`${parts.join('  ')}\n`);
  }
  process.stdout.write(`  (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}
process.stdout.write(`\ntargets: ${met} met, ${missed} missed\n`);
process.exitCode = missed > 0 ? 1 : 0;
