/**
 * infra/build.ts on stand-in entries (the real functions are bundled by the same code): one ESM bundle per entry
 * that a fresh Node process imports and whose handler answers, pg-native left out, failures named per bundle.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BundleResult, buildBundles, ESM_REQUIRE_BANNER } from '../../infra/build.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'handler.ts');
let outdir: string;
let bundles: BundleResult[];

function callHandler(file: string, event: unknown): Promise<unknown> {
  const script = `const m = await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(JSON.stringify(await m.handler(${JSON.stringify(event)})));`;
  return new Promise((resolve, reject) => {
    // A fresh process in an empty folder: nothing but the bundle itself can satisfy its imports.
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { cwd: outdir, env: { PATH: process.env.PATH } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout));
      },
    );
  });
}

beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), 'pgwarden-build-'));
  bundles = await buildBundles({ outdir, entries: { watchdog: FIXTURE, 'send-slack': FIXTURE } });
});

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

describe('buildBundles', () => {
  it('writes one minified ESM bundle per entry, with an external source map and a metafile beside its folder', () => {
    expect(bundles.map((b) => b.name).sort()).toEqual(['send-slack', 'watchdog']);
    for (const name of ['watchdog', 'send-slack']) {
      const file = join(outdir, name, 'index.mjs');
      const code = readFileSync(file, 'utf8');
      expect(code.slice(0, ESM_REQUIRE_BANNER.length), `${name} starts with the createRequire banner`).toBe(ESM_REQUIRE_BANNER);
      expect(code).not.toContain('sourceMappingURL');
      expect(existsSync(`${file}.map`), `${name} has its source map beside it`).toBe(true);
      expect(JSON.parse(readFileSync(join(outdir, `${name}.meta.json`), 'utf8')).outputs).toBeDefined();
      expect(bundles.find((b) => b.name === name)?.bytes).toBe(Buffer.byteLength(code));
    }
  });

  it('produces a bundle that a fresh node process imports and whose handler answers', async () => {
    const bundle = bundles.find((b) => b.name === 'watchdog') as BundleResult;
    await expect(callHandler(bundle.outfile, { source: 'test' })).resolves.toEqual({
      poolClients: 0,
      lambda: 'function',
      event: { source: 'test' },
    });
  });

  it('leaves pg-native out of the bundle', () => {
    const inputs = Object.keys((bundles[0] as BundleResult).metafile.inputs);
    expect(inputs).toContainEqual(expect.stringContaining('node_modules/pg/'));
    expect(inputs).not.toContainEqual(expect.stringContaining('pg-native'));
  });

  it('names the bundle, file and line of a build error, and still builds the other bundles', async () => {
    const broken = join(outdir, 'broken.ts');
    writeFileSync(broken, "import { nothing } from './missing.ts';\nexport const handler = () => nothing;\n");

    const failure = await buildBundles({ outdir, entries: { sweep: broken, requeue: FIXTURE } }).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).name).toBe('BundleBuildError');
    expect((failure as Error).message).toMatch(/^sweep: .*broken\.ts:1:\d+: Could not resolve "\.\/missing\.ts"/);
    expect(existsSync(join(outdir, 'requeue', 'index.mjs')), 'the healthy entry was still built').toBe(true);
  });
});
