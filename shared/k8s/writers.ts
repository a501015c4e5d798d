import type { TopologySettings } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import type { EndpointsWriter } from '../topology/index.ts';
import { createKubeConfig } from './config.ts';
import { createEndpointsWriter } from './endpoints-writer.ts';
import { K8sOptionsError } from './errors.ts';

/**
 * The endpoints writer each cluster's topology settings ask for, one per distinct (kubeconfig, API, port name),
 * made once and reused across runs. With `manageEndpoints` off, or with no Kubernetes configuration anywhere and
 * none asked for, there is none (the run probes and alerts only; said once in the log). A configuration that was
 * asked for (`kubeconfig`, `kubeconfigText`) but cannot load throws `K8sOptionsError`.
 *
 * @example const writerFor = createEndpointsWriterFactory(logger); runTopology({ …, writer: writerFor(settings) })
 */
export function createEndpointsWriterFactory(logger: Logger): (settings: TopologySettings) => EndpointsWriter | undefined {
  const writers = new Map<string, EndpointsWriter | undefined>();
  return (settings) => {
    if (!settings.manageEndpoints) return undefined;
    const key = JSON.stringify([settings.kubeconfig ?? null, settings.kubeconfigText ?? null, settings.endpointsApi, settings.portName]);
    if (writers.has(key)) return writers.get(key);
    let writer: EndpointsWriter | undefined;
    try {
      writer = createEndpointsWriter({
        kubeConfig: createKubeConfig({ kubeconfig: settings.kubeconfig, kubeconfigText: settings.kubeconfigText }),
        api: settings.endpointsApi,
        portName: settings.portName,
        logger,
      });
    } catch (error) {
      if (!(error instanceof K8sOptionsError) || settings.kubeconfig !== undefined || settings.kubeconfigText !== undefined) throw error;
      logger.warn('no Kubernetes configuration found: probing and alerting only, endpoints are not written', { reason: error.message });
    }
    writers.set(key, writer);
    return writer;
  };
}
