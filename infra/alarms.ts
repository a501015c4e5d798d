/**
 * What watches pgwarden itself: the CloudWatch alarms planned in infra/alarms-config.ts (dead deliveries, a non-empty
 * dead-letter queue, function errors, a silent watchdog), each notifying one SNS topic on ALARM and on OK.
 * Subscribe to it with `PGWARDEN_ALARM_EMAIL=ops@example.com sst deploy` (SNS mails a confirmation link first), or
 * any other SNS protocol through the `alarmsTopic` output (README: "Monitoring pgwarden itself").
 */
import { alarmEmailsFrom, planAlarms } from './alarms-config.ts';
import type { AlertQueues } from './queue.ts';
import { schedulesFor } from './schedules-config.ts';

export function createAlarms({ queues }: { queues: AlertQueues }) {
  const topic = new sst.aws.SnsTopic('Alarms');
  const plans = planAlarms({
    app: $app.name,
    stage: $app.stage,
    // The schedules infra/schedules.ts deploys, read the same way: the heartbeat's period is the watchdog's interval.
    schedules: schedulesFor($app.stage, process.env),
    dlqName: queues.dlq.nodes.queue.name,
  });
  const alarms = plans.map(
    (plan) =>
      new aws.cloudwatch.MetricAlarm(plan.id, {
        name: plan.name,
        alarmDescription: plan.description,
        namespace: plan.namespace,
        metricName: plan.metricName,
        dimensions: plan.dimensions,
        statistic: plan.statistic,
        period: plan.periodSeconds,
        evaluationPeriods: plan.evaluationPeriods,
        datapointsToAlarm: plan.datapointsToAlarm,
        threshold: plan.threshold,
        comparisonOperator: plan.comparisonOperator,
        treatMissingData: plan.treatMissingData,
        alarmActions: [topic.arn],
        okActions: [topic.arn],
      }),
  );
  const emails = alarmEmailsFrom(process.env).map(
    (endpoint, i) => new aws.sns.TopicSubscription(`AlarmsEmail${i}`, { topic: topic.arn, protocol: 'email', endpoint }),
  );
  return { topic, alarms, emails };
}
