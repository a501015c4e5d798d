import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { describeError, registerSecret } from '../redact/index.ts';
import { K8sOptionsError } from './errors.ts';

export interface KubeConfigOptions {
  /** A kubeconfig file (`--kubeconfig`); its current context is used. */
  kubeconfig?: string;
  /** A kubeconfig document itself (a linked secret's value); wins over `kubeconfig`. */
  kubeconfigText?: string;
  /** An API server URL to talk to directly, like a loopback fake `http://127.0.0.1:PORT`. Wins over `kubeconfig`. */
  server?: string;
  /** A bearer token for `server`. Registered as a secret, so it never shows in logs or errors. */
  token?: string;
}

// The in-cluster service account files (https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/).
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Builds the Kubernetes client configuration the adapters take. Resolution order: `server` (a direct URL,
 * for loopback fakes and tests), else the `kubeconfig` file, else in-cluster (the pod's service account, when
 * `KUBERNETES_SERVICE_HOST` is set and the token file exists), else `KUBECONFIG` / `~/.kube/config`.
 * Treat the result as opaque: pass it to `createEndpointsWriter` or `createLeaderElector`.
 *
 * @throws K8sOptionsError when the file is missing or no configuration can be found at all (instead of the
 *   client's silent fallback to `http://localhost:8080`).
 * @example createKubeConfig({ kubeconfig: flags.kubeconfig }) // CLI `--kubeconfig FILE`, else in-cluster
 */
export function createKubeConfig(options: KubeConfigOptions = {}): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (options.token) registerSecret(options.token);
  if (options.server !== undefined) {
    let url: URL;
    try {
      url = new URL(options.server);
    } catch (error) {
      throw new K8sOptionsError('server', `not a URL: ${JSON.stringify(options.server)}`, { cause: error });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new K8sOptionsError('server', `must be http:// or https://, got ${JSON.stringify(url.protocol)}`);
    }
    kubeConfig.loadFromOptions({
      // The client refuses plain http unless skipTLSVerify is set; there is no TLS to verify on a loopback fake.
      clusters: [{ name: 'pgwarden', server: options.server.replace(/\/$/, ''), skipTLSVerify: url.protocol === 'http:' }],
      users: [{ name: 'pgwarden', ...(options.token ? { token: options.token } : {}) }],
      contexts: [{ name: 'pgwarden', cluster: 'pgwarden', user: 'pgwarden' }],
      currentContext: 'pgwarden',
    });
    return kubeConfig;
  }
  if (options.kubeconfigText !== undefined) {
    try {
      kubeConfig.loadFromString(options.kubeconfigText);
    } catch (error) {
      throw new K8sOptionsError(
        'kubeconfigText',
        `cannot load the kubeconfig document: ${error instanceof Error ? error.message : String(error)}`,
        {
          cause: error,
        },
      );
    }
    return kubeConfig;
  }
  if (options.kubeconfig !== undefined) {
    if (!existsSync(options.kubeconfig)) throw new K8sOptionsError('kubeconfig', `file not found: ${options.kubeconfig}`);
    try {
      kubeConfig.loadFromFile(options.kubeconfig);
    } catch (error) {
      throw new K8sOptionsError('kubeconfig', `cannot load ${options.kubeconfig}: ${describeError(error)}`, { cause: error });
    }
    if (!kubeConfig.getCurrentCluster())
      throw new K8sOptionsError('kubeconfig', `${options.kubeconfig} has no current context with a cluster`);
    return kubeConfig;
  }
  if (process.env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kubeConfig.loadFromCluster();
    return kubeConfig;
  }
  try {
    kubeConfig.loadFromDefault();
  } catch (error) {
    throw new K8sOptionsError('kubeconfig', `cannot load KUBECONFIG or ~/.kube/config: ${describeError(error)}`, {
      cause: error,
    });
  }
  const cluster = kubeConfig.getCurrentCluster();
  // loadFromDefault's last resort is an unauthenticated http://localhost:8080: never what an operator meant.
  if (!cluster || (kubeConfig.currentContext === 'loaded-context' && cluster.server === 'http://localhost:8080')) {
    throw new K8sOptionsError(
      'kubeconfig',
      'no Kubernetes configuration found: pass --kubeconfig FILE, set KUBECONFIG, or run in a pod with a service account',
    );
  }
  return kubeConfig;
}
