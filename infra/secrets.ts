/**
 * Secrets, set per stage with `npx sst secret set <Name> <value> --stage <stage>`. Linked only to the functions that
 * read them; handlers read `Resource.<Name>.value` (from `sst`).
 */

export function createSecrets() {
  return {
    /** The control database (alert state, delivery ledger): `postgres://user:password@host:5432/pgwarden`. Required. */
    stateUrl: new sst.Secret('StateUrl'),
    /**
     * The guarded fleet. Either the node URLs of one cluster, comma-separated (`name=postgres://…` or bare URLs, as
     * `PGWARDEN_URLS`), or a pgwarden config document (YAML or JSON) holding `clusters:`. Required.
     */
    clusterUrls: new sst.Secret('ClusterUrls'),
    /** Slack incoming webhook URL; empty (the default) leaves Slack off. */
    slackWebhookUrl: new sst.Secret('SlackWebhookUrl', ''),
    /** Loki base URL (`…/loki/api/v1/push` is appended); empty leaves Loki off. */
    lokiUrl: new sst.Secret('LokiUrl', ''),
    /** Bearer token for Loki; empty for none. */
    lokiBearerToken: new sst.Secret('LokiBearerToken', ''),
    /**
     * Bearer token for the proxy API's mutations (`POST /nodes/{name}/drain|undrain` and any later one), at least 8
     * characters. Required, with no default: the proxy's API listens on 0.0.0.0 (the load balancer's health checks
     * come from the VPC), and a proxy without a token refuses every mutation with 403. Reads (health, topology,
     * metrics) need no token. Set it with `npx sst secret set ProxyApiToken "$(openssl rand -base64 32)"`.
     */
    proxyApiToken: new sst.Secret('ProxyApiToken'),
    /**
     * A kubeconfig (YAML) for the topology function to write Endpoints/EndpointSlices with; empty when the
     * cluster has no Kubernetes side (the topology is still probed and alerted on).
     */
    kubeconfig: new sst.Secret('Kubeconfig', ''),
  };
}

export type Secrets = ReturnType<typeof createSecrets>;
