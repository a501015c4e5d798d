import { Resource } from 'sst/resource';
import { loadConfig } from './load.ts';
import type { Config } from './schema.ts';

/** Secrets the deployment links (infra/secrets.ts) and the PGWARDEN_* variable each one stands for. */
export const LINKED_SECRETS: Record<string, string> = {
  StateUrl: 'PGWARDEN_STATE_URL',
  SlackWebhookUrl: 'PGWARDEN_SLACK_WEBHOOK_URL',
  LokiUrl: 'PGWARDEN_LOKI_URL',
  LokiBearerToken: 'PGWARDEN_LOKI_BEARER_TOKEN',
  ProxyApiToken: 'PGWARDEN_PROXY_API_TOKEN',
  Kubeconfig: 'PGWARDEN_KUBECONFIG_TEXT',
};

/**
 * A linked secret's value (SST's `Resource`, filled from the `SST_RESOURCE_*` variables a deployed function or task
 * gets); `Resource` throws for anything not linked, which means "not set". Read through `sst/resource`, not the
 * `sst` root, so importing the config module does not also load SST's realtime and vector helpers or its
 * console polyfill for ECS.
 */
export function readLinkedSecret(name: string): string | undefined {
  try {
    const value = (Resource as unknown as Record<string, { value?: unknown } | undefined>)[name]?.value;
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The config of a deployed function or task: PGWARDEN_* environment with linked secrets on top. `readLinked`
 * returns a linked secret's value or undefined (`readLinkedSecret` in a deployment; tests pass their own). The `ClusterUrls` secret holds comma-separated node URLs (as PGWARDEN_URLS) or a
 * whole config document (YAML or JSON with `clusters:`), so a fleet with per-cluster overrides fits in one secret.
 */
export function loadLinkedConfig(readLinked: (name: string) => string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  const merged: NodeJS.ProcessEnv = { ...env };
  for (const [name, variable] of Object.entries(LINKED_SECRETS)) {
    const value = readLinked(name);
    if (value !== undefined && value !== '') merged[variable] = value;
  }
  const fleet = readLinked('ClusterUrls');
  if (fleet !== undefined && fleet !== '') {
    if (/^\s*(postgres(ql)?:\/\/|[A-Za-z0-9_.-]+=postgres)/.test(fleet)) merged.PGWARDEN_URLS = fleet;
    else return loadConfig({ env: merged, text: fleet, source: 'ClusterUrls secret' });
  }
  return loadConfig({ env: merged });
}
