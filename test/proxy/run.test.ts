/**
 * Wiring from config (no database reached): the Lease reads its kubeconfig from the loaded config, so
 * `PGWARDEN_KUBECONFIG` applies to the proxy as it does to the topology run, with no second look at the env.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config/index.ts';
import { createMemoryLogger } from '../../shared/log/index.ts';
import { startProxyFromConfig } from '../../shared/proxy/index.ts';

const missing = '/nonexistent/pgwarden-test/kubeconfig';

describe('startProxyFromConfig', () => {
  it('builds the Lease client from PGWARDEN_KUBECONFIG, and an explicit kubeconfig wins', async () => {
    const config = loadConfig({
      env: {
        PGWARDEN_URLS: 'pg-0=postgres://monitor:secret@127.0.0.1:1/postgres',
        PGWARDEN_PROXY_LEASE: 'pgwarden-proxy',
        PGWARDEN_KUBECONFIG: missing,
      },
    });
    await expect(startProxyFromConfig(config, { logger: createMemoryLogger() })).rejects.toThrow(`kubeconfig: file not found: ${missing}`);
    await expect(startProxyFromConfig(config, { logger: createMemoryLogger(), kubeconfig: `${missing}-flag` })).rejects.toThrow(
      `kubeconfig: file not found: ${missing}-flag`,
    );
  });
});

describe('the data path setting', () => {
  it('refuses dataPath native for a node given by name (the addon connects without DNS), and says so', async () => {
    const config = loadConfig({
      env: { PGWARDEN_URLS: 'pg-0=postgres://monitor:secret@db.internal:5432/postgres', PGWARDEN_PROXY_DATA_PATH: 'native' },
    });
    await expect(startProxyFromConfig(config, { logger: createMemoryLogger() })).rejects.toThrow(
      process.platform === 'linux'
        ? 'dataPath: native is not available: node host db.internal is a name, not an IP address'
        : /dataPath: native/,
    );
  });
});
