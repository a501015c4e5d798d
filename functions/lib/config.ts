import { Resource } from 'sst';
import { type Config, loadConfig } from '../../shared/config/index.ts';

/** Linked `sst.Secret`s (infra/secrets.ts) and the PGWARDEN_* variable each one stands for. */
const LINKED_SECRETS: Record<string, string> = {
  StateUrl: 'PGWARDEN_STATE_URL',
  SlackWebhookUrl: 'PGWARDEN_SLACK_WEBHOOK_URL',
  LokiUrl: 'PGWARDEN_LOKI_URL',
  LokiBearerToken: 'PGWARDEN_LOKI_BEARER_TOKEN',
  ProxyApiToken: 'PGWARDEN_PROXY_API_TOKEN',
  Kubeconfig: 'PGWARDEN_KUBECONFIG_TEXT',
};

function linkedValue(name: string): string | undefined {
  // Resource throws for anything not linked to this function; that only means "not set" here.
  try {
    const value = (Resource as unknown as Record<string, { value?: unknown } | undefined>)[name]?.value;
    return typeof value === 'string' && value !== '' ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The config of a function, read once at cold start: PGWARDEN_* environment, with linked secrets on top.
 * `ClusterUrls` holds either comma-separated node URLs (as PGWARDEN_URLS) or a whole config document (YAML or
 * JSON with `clusters:`), so a fleet with per-cluster overrides fits in one secret.
 */
export function loadFunctionConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const merged: NodeJS.ProcessEnv = { ...env };
  for (const [name, variable] of Object.entries(LINKED_SECRETS)) {
    const value = linkedValue(name);
    if (value !== undefined) merged[variable] = value;
  }
  const fleet = linkedValue('ClusterUrls');
  if (fleet !== undefined) {
    if (/^\s*(postgres(ql)?:\/\/|[A-Za-z0-9_.-]+=postgres)/.test(fleet)) merged.PGWARDEN_URLS = fleet;
    else return loadConfig({ env: merged, text: fleet, source: 'ClusterUrls secret' });
  }
  return loadConfig({ env: merged });
}
