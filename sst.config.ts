/// <reference path="./.sst/platform/config.d.ts" />
/**
 * Deployment wiring only; the resources live in infra/. Build the bundles first: `npm run build && npx sst deploy`.
 * Stages other than `production` are removed with `sst remove`; production keeps its data (queues, logs).
 */
export default $config({
  app(input) {
    return {
      name: 'pgwarden',
      removal: input?.stage === 'production' ? 'retain' : 'remove',
      protect: input?.stage === 'production',
      home: 'aws',
    };
  },
  async run() {
    const { createSecrets } = await import('./infra/secrets.ts');
    const { createQueues, subscribeSenders } = await import('./infra/queue.ts');
    const { createFunctions } = await import('./infra/functions.ts');
    const { createSchedules } = await import('./infra/schedules.ts');
    const { createNetwork, createProxy } = await import('./infra/proxy.ts');
    const { createAlarms } = await import('./infra/alarms.ts');

    const secrets = createSecrets();
    const queues = createQueues();
    const { vpc, cluster } = createNetwork();
    const functions = createFunctions({ secrets, queues, vpc });
    subscribeSenders(queues, { sendSlack: functions['send-slack'], sendLoki: functions['send-loki'] });
    createSchedules(functions);
    const proxy = createProxy({ cluster, secrets });
    const alarms = createAlarms({ queues });

    return {
      alertsSlackQueue: queues.slack.url,
      alertsLokiQueue: queues.loki.url,
      alertsDlq: queues.dlq.url,
      alarmsTopic: alarms.topic.arn,
      proxyHost: proxy.nodes.loadBalancer.dnsName,
      functions: Object.fromEntries(Object.entries(functions).map(([fn, f]) => [fn, f.name])),
    };
  },
});
