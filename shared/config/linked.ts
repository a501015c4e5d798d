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
 * The config of a deployed function or task: PGWARDEN_* environment with linked secrets on top. `readLinked`
 * returns a linked secret's value or undefined (functions/ and tasks/ read them with `Resource` from `sst`;
 * shared/ does not import it). The `ClusterUrls` secret holds comma-separated node URLs (as PGWARDEN_URLS) or a
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
