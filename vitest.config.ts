import { defineConfig } from 'vitest/config';

/**
 * The proxy's behaviour tests run twice: on the default data path (the native addon, where `npm install` built it)
 * and on the JavaScript one (`PGWARDEN_TEST_PROXY_DATA_PATH`, read by test/proxy/helpers.ts), so the fallback a
 * machine without a compiler runs is held to the same tests.
 */
const PROXY_BEHAVIOUR = ['proxy', 'failover', 'split-brain', 'promotion', 'backend', 'workers', 'data-path', 'cancel'].map(
  (name) => `test/proxy/${name}.test.ts`,
);

export default defineConfig({
  test: {
    // Each test file starts its own real Postgres cluster; two at a time fit a 2-core machine.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    projects: [
      { extends: true, test: { name: 'pgwarden', include: ['test/**/*.test.ts'] } },
      {
        extends: true,
        test: { name: 'proxy, javascript data path', include: PROXY_BEHAVIOUR, env: { PGWARDEN_TEST_PROXY_DATA_PATH: 'javascript' } },
      },
    ],
  },
});
