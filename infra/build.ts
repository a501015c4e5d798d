/**
 * `npm run build`: one minified ESM bundle per Lambda function (`functions/<name>.ts`) and one for the proxy
 * container (`tasks/ha-proxy/main.ts`), written to `dist/<name>/index.mjs`. `infra/functions.ts` deploys these very
 * files (SST `bundle`), `tasks/ha-proxy/Dockerfile` copies the proxy's, and the bundle tests and benchmark import
 * them: what is measured is what ships.
 */
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import path, { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, type Metafile, type Plugin } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * ESM bundles of CommonJS code call `require` for Node built-ins; esbuild's shim throws
 * "Dynamic require of "events" is not supported" without a real `require` in scope.
 */
export const ESM_REQUIRE_BANNER = "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

/**
 * Imported only when present, never needed at run time: `pg-native` (pg's libpq binding, used only through
 * `pg.native`) and ws's optional native speed-ups (`bufferutil`, `utf-8-validate`), which ws loads in a try/catch.
 */
export const OPTIONAL_EXTERNALS = ['pg-native', 'bufferutil', 'utf-8-validate'];

/** The esbuild options every bundle is built with (also what a test or benchmark may reuse). */
/**
 * zod's classic API re-exports every translation of its error messages (`z.locales`, 258 kB minified) although
 * only English is used (zod configures it itself at import). Resolving the locales index to English alone keeps
 * every bundle ~250 kB lighter; `z.locales.<other>` is the only thing that would be missing, and pgwarden uses none.
 */
const ZOD_ENGLISH_ONLY: Plugin = {
  name: 'zod-english-only',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}zod${path.sep}`) ? { path: 'zod-locales-en', namespace: 'zod-locales' } : undefined,
    );
    pluginBuild.onLoad({ filter: /.*/, namespace: 'zod-locales' }, () => ({
      contents: `export { default as en } from ${JSON.stringify(path.join(ROOT, 'node_modules/zod/v4/locales/en.js'))};`,
      loader: 'js',
      resolveDir: ROOT,
    }));
  },
};

export const BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  // Prefer packages' ESM builds: they tree-shake (the AWS SDK ships both).
  mainFields: ['module', 'main'],
  minify: true,
  sourcemap: 'external',
  metafile: true,
  legalComments: 'none',
  external: OPTIONAL_EXTERNALS,
  banner: { js: ESM_REQUIRE_BANNER },
  logLevel: 'silent',
  plugins: [ZOD_ENGLISH_ONLY],
};

export interface BundleResult {
  /** The bundle's name: the function (`watchdog`) or `ha-proxy`. */
  name: string;
  entry: string;
  /** `<outdir>/<name>/index.mjs`. */
  outfile: string;
  bytes: number;
  metafile: Metafile;
}

export interface BuildBundlesOptions {
  /** Default `dist/` at the project root. */
  outdir?: string;
  /** Bundle name → entry file. Default: every `functions/*.ts` plus `tasks/ha-proxy/main.ts` that exists. */
  entries?: Record<string, string>;
}

/** Build failed: carries esbuild's messages, one per line, with file:line. */
export class BundleBuildError extends Error {
  override name = 'BundleBuildError';
  readonly bundle: string;

  constructor(bundle: string, message: string, options?: { cause?: unknown }) {
    super(`${bundle}: ${message}`, options);
    this.bundle = bundle;
  }
}

/** Every `functions/<name>.ts` (not `functions/lib/`, tests or declarations) and the proxy's entry, when present. */
export function discoverEntries(root = ROOT): Record<string, string> {
  const entries: Record<string, string> = {};
  const functionsDir = join(root, 'functions');
  if (existsSync(functionsDir)) {
    for (const file of readdirSync(functionsDir, { withFileTypes: true })) {
      if (!file.isFile() || !file.name.endsWith('.ts') || file.name.endsWith('.d.ts') || file.name.endsWith('.test.ts')) continue;
      entries[basename(file.name, '.ts')] = join(functionsDir, file.name);
    }
  }
  const proxy = join(root, 'tasks', 'ha-proxy', 'main.ts');
  if (existsSync(proxy)) entries['ha-proxy'] = proxy;
  return entries;
}

function formatMessages(messages: Array<{ text: string; location: { file: string; line: number; column: number } | null }>): string {
  return messages.map((m) => (m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ${m.text}` : m.text)).join('\n');
}

/**
 * Native addons a bundle loads from beside itself (esbuild cannot bundle a `.node`): the proxy's splice, when
 * `npm install` built it. Without it the bundle runs the JavaScript data path. The container image builds its
 * own (tasks/ha-proxy/Dockerfile), for its own libc.
 */
const ADDONS: Record<string, readonly string[]> = {
  'ha-proxy': [join(ROOT, 'shared/proxy/native/build/Release/pgwarden_splice.node')],
};

async function buildOne(name: string, entry: string, outdir: string): Promise<BundleResult> {
  const dir = join(outdir, name);
  const outfile = join(dir, 'index.mjs');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  let result: Awaited<ReturnType<typeof build>>;
  try {
    result = await build({ ...BUNDLE_OPTIONS, entryPoints: [entry], outfile, absWorkingDir: ROOT });
  } catch (error) {
    const errors = (error as { errors?: Parameters<typeof formatMessages>[0] }).errors;
    throw new BundleBuildError(name, errors?.length ? formatMessages(errors) : String(error), { cause: error });
  }
  for (const addon of ADDONS[name] ?? []) {
    if (existsSync(addon)) await copyFile(addon, join(dir, basename(addon)));
  }
  const metafile = result.metafile as Metafile;
  // Beside the bundle's folder, not in it: the folder is what gets deployed.
  await writeFile(join(outdir, `${name}.meta.json`), JSON.stringify(metafile));
  const output = metafile.outputs[relative(ROOT, outfile)];
  return { name, entry, outfile, bytes: output?.bytes ?? 0, metafile };
}

/**
 * Bundles each entry into `<outdir>/<name>/index.mjs` (+ `index.mjs.map`, and `<outdir>/<name>.meta.json`).
 * Throws `BundleBuildError` when any bundle fails; the others are still built.
 *
 * @example
 * const bundles = await buildBundles({ outdir: '/tmp/pgwarden-dist' });
 * for (const b of bundles) console.log(b.name, b.bytes);
 */
export async function buildBundles(options: BuildBundlesOptions = {}): Promise<BundleResult[]> {
  const outdir = resolve(options.outdir ?? join(ROOT, 'dist'));
  const entries = options.entries ?? discoverEntries();
  const settled = await Promise.allSettled(Object.entries(entries).map(([name, entry]) => buildOne(name, resolve(ROOT, entry), outdir)));
  const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, failures.map((f) => (f as Error).message).join('\n'));
  return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
}

function formatSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MB` : `${(bytes / 1024).toFixed(1)} kB`;
}

async function main(): Promise<void> {
  const entries = discoverEntries();
  if (Object.keys(entries).length === 0) {
    process.stderr.write('build: nothing to bundle (no functions/*.ts and no tasks/ha-proxy/main.ts)\n');
    return;
  }
  const started = performance.now();
  try {
    const bundles = await buildBundles({ entries });
    const width = Math.max(...bundles.map((b) => relative(ROOT, b.outfile).length));
    for (const bundle of bundles.sort((a, b) => a.name.localeCompare(b.name))) {
      process.stdout.write(`${relative(ROOT, bundle.outfile).padEnd(width)}  ${formatSize(bundle.bytes).padStart(9)}\n`);
    }
    process.stderr.write(`build: ${bundles.length} bundles in ${Math.round(performance.now() - started)} ms\n`);
  } catch (error) {
    process.stderr.write(`build failed:\n${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
