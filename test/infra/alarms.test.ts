/**
 * The alarms that watch pgwarden itself, as infra/alarms.ts deploys them (it maps each planned alarm to one
 * aws.cloudwatch.MetricAlarm; `npm run check:infra` type-checks that mapping against the provider's types).
 */
import { describe, expect, it } from 'vitest';
import { AlarmConfigError, alarmEmailsFrom, planAlarms, scheduleIntervalSeconds } from '../../infra/alarms-config.ts';
import { schedulesFor } from '../../infra/schedules-config.ts';

const plan = (stage: string, env: Record<string, string> = {}) =>
  planAlarms({ app: 'pgwarden', stage, schedules: schedulesFor(stage, env), dlqName: `pgwarden-${stage}-AlertsDlqQueue` });

const byName = (stage: string, env: Record<string, string> = {}) => new Map(plan(stage, env).map((alarm) => [alarm.name, alarm]));

describe('planAlarms', () => {
  it('alarms on any dead delivery from each function that can make one', () => {
    const alarms = byName('production');
    for (const fn of ['send-slack', 'send-loki', 'sweep']) {
      expect(alarms.get(`pgwarden-production-dead-deliveries-${fn}`)).toMatchObject({
        namespace: 'pgwarden',
        metricName: 'DeadDeliveries',
        dimensions: { service: `pgwarden-${fn}`, stage: 'production' },
        statistic: 'Sum',
        periodSeconds: 60,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: 'GreaterThanThreshold',
        treatMissingData: 'notBreaching',
      });
    }
  });

  it('alarms on a dead-letter queue holding any message, and keeps that state when SQS stops reporting', () => {
    expect(byName('production').get('pgwarden-production-dlq-not-empty')).toMatchObject({
      namespace: 'AWS/SQS',
      metricName: 'ApproximateNumberOfMessagesVisible',
      dimensions: { QueueName: 'pgwarden-production-AlertsDlqQueue' },
      statistic: 'Maximum',
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'ignore',
    });
  });

  it('alarms on the errors of every deployed function, by its deployed name', () => {
    const errors = plan('production').filter((alarm) => alarm.namespace === 'AWS/Lambda');
    expect(errors.map((alarm) => alarm.dimensions.FunctionName)).toEqual([
      'pgwarden-production-watchdog',
      'pgwarden-production-topology',
      'pgwarden-production-sweep',
      'pgwarden-production-requeue',
      'pgwarden-production-send-slack',
      'pgwarden-production-send-loki',
    ]);
    for (const alarm of errors) {
      expect(alarm).toMatchObject({ metricName: 'Errors', statistic: 'Sum', threshold: 0, comparisonOperator: 'GreaterThanThreshold' });
    }
  });

  it('alarms when the watchdog reported no check for three of its intervals, missing data counting as a breach', () => {
    expect(byName('production').get('pgwarden-production-watchdog-silent')).toMatchObject({
      namespace: 'pgwarden',
      metricName: 'ChecksRun',
      dimensions: { service: 'pgwarden-watchdog', stage: 'production' },
      statistic: 'Sum',
      periodSeconds: 60,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      threshold: 1,
      comparisonOperator: 'LessThanThreshold',
      treatMissingData: 'breaching',
    });
    // The dev stage checks every 5 minutes (infra/schedules-config.ts), an override every 2 hours.
    expect(byName('dev').get('pgwarden-dev-watchdog-silent')).toMatchObject({ periodSeconds: 300, evaluationPeriods: 3 });
    expect(byName('prod', { PGWARDEN_SCHEDULE_WATCHDOG: 'rate(2 hours)' }).get('pgwarden-prod-watchdog-silent')).toMatchObject({
      periodSeconds: 7200,
      evaluationPeriods: 3,
    });
  });

  it('fits CloudWatch’s one-day evaluation limit, and refuses a watchdog schedule it cannot watch', () => {
    const twelveHours = byName('prod', { PGWARDEN_SCHEDULE_WATCHDOG: 'rate(12 hours)' }).get('pgwarden-prod-watchdog-silent');
    expect(twelveHours).toMatchObject({ periodSeconds: 43_200, evaluationPeriods: 2, datapointsToAlarm: 2 });
    expect(() => plan('prod', { PGWARDEN_SCHEDULE_WATCHDOG: 'rate(2 days)' })).toThrow(AlarmConfigError);
    expect(() => plan('prod', { PGWARDEN_SCHEDULE_WATCHDOG: 'cron(0 9 ? * MON-FRI *)' })).toThrow(/at most a day between runs/);
  });

  it('gives every alarm a unique name and logical id per stage', () => {
    const alarms = plan('production');
    expect(new Set(alarms.map((alarm) => alarm.name)).size).toBe(alarms.length);
    expect(new Set(alarms.map((alarm) => alarm.id)).size).toBe(alarms.length);
    expect(alarms).toHaveLength(3 + 1 + 6 + 1);
  });
});

describe('scheduleIntervalSeconds', () => {
  it('reads rates, and the longest gap of a cron in UTC', () => {
    expect(scheduleIntervalSeconds('rate(1 minute)')).toBe(60);
    expect(scheduleIntervalSeconds('cron(0/15 * * * ? *)')).toBe(900);
    // Hourly from 08:00 to 18:00 UTC: the night is the longest gap (14 hours).
    expect(scheduleIntervalSeconds('cron(0 8-18 * * ? *)', new Date('2026-12-04T12:00:00Z'))).toBe(14 * 3600);
  });
});

describe('alarmEmailsFrom', () => {
  it('reads comma-separated addresses and names the one that is not', () => {
    expect(alarmEmailsFrom({})).toEqual([]);
    expect(alarmEmailsFrom({ PGWARDEN_ALARM_EMAIL: 'ops@example.com, oncall@example.org' })).toEqual([
      'ops@example.com',
      'oncall@example.org',
    ]);
    expect(() => alarmEmailsFrom({ PGWARDEN_ALARM_EMAIL: 'ops@example.com,ops' })).toThrow('not an email address: ops');
  });
});
