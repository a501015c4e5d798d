/**
 * The CloudWatch alarms that watch pgwarden itself, as plain data: `infra/alarms.ts` creates one
 * `aws.cloudwatch.MetricAlarm` per entry, routed to the alarms SNS topic. Pure (no SST globals), so the thresholds
 * and the heartbeat period derived from the watchdog's schedule are tested without deploying.
 *
 * Alarm semantics: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
 * (period × evaluation periods at most one day; `treatMissingData`: breaching, notBreaching, ignore, missing).
 */
import { Cron } from 'croner';
import { DEAD_DELIVERY_SOURCES, METRIC, METRICS_NAMESPACE, serviceName } from '../functions/lib/metric-names.ts';
import { deployedFunctionName, FUNCTION_NAMES } from '../shared/invoke/names.ts';
import { parseSchedule } from '../shared/runtime/schedule.ts';
import type { Schedules } from './schedules-config.ts';

const DAY_SECONDS = 86_400;

/** How many watchdog intervals without a report make the "watchdog stopped" alarm fire. */
export const SILENT_INTERVALS = 3;

/** One alarm. `Q` is the DLQ's name: a string here and in tests, a Pulumi output when deploying. */
export interface AlarmPlan<Q = string> {
  /** The Pulumi logical name (`AlarmWatchdogSilent`). */
  id: string;
  /** The CloudWatch alarm name, unique per app and stage: `pgwarden-production-watchdog-silent`. */
  name: string;
  /** What it means and what to do: the text the SNS notification carries. */
  description: string;
  namespace: string;
  metricName: string;
  dimensions: Record<string, string | Q>;
  statistic: 'Sum' | 'Maximum';
  periodSeconds: number;
  evaluationPeriods: number;
  datapointsToAlarm: number;
  threshold: number;
  comparisonOperator: 'GreaterThanThreshold' | 'LessThanThreshold';
  treatMissingData: 'breaching' | 'notBreaching' | 'ignore';
}

/** The watchdog's schedule cannot be watched by a heartbeat alarm: names the expression and the limit. */
export class AlarmConfigError extends Error {
  override name = 'AlarmConfigError';
}

/**
 * The longest gap, in seconds, between two runs of a deployable schedule: the rate itself, or for a cron the largest
 * gap between its runs over the next eight days (so a weekday-only schedule shows its weekend), in UTC as deployed.
 *
 * @example scheduleIntervalSeconds('rate(5 minutes)') // 300
 */
export function scheduleIntervalSeconds(expression: string, from: Date = new Date()): number {
  const schedule = parseSchedule(expression, { deployable: true });
  if (schedule.kind === 'rate') return schedule.everyMs / 1000;
  const cron = new Cron(schedule.pattern, { paused: true, timezone: 'UTC' });
  const until = from.getTime() + 8 * DAY_SECONDS * 1000;
  let previous = cron.nextRun(from);
  let longest = 0;
  while (previous && previous.getTime() < until) {
    const next = cron.nextRun(previous);
    if (!next) break;
    longest = Math.max(longest, (next.getTime() - previous.getTime()) / 1000);
    previous = next;
  }
  cron.stop();
  if (longest === 0) throw new AlarmConfigError(`schedule "${expression}" does not run twice in the next eight days`);
  return longest;
}

/**
 * The heartbeat: the watchdog's ChecksRun summed per watchdog interval stays below 1 for `SILENT_INTERVALS`
 * intervals in a row, no datapoint counting as a breach (a watchdog that stops, crashes before reporting, or is never
 * invoked writes nothing). CloudWatch allows at most a day of evaluation, so a schedule slower than 8 hours is
 * watched over fewer intervals; one slower than a day cannot be watched, and says so.
 */
function silentWatchdogAlarm(app: string, stage: string, schedules: Schedules): AlarmPlan<never> {
  const period = scheduleIntervalSeconds(schedules.watchdog);
  if (period > DAY_SECONDS || period % 60 !== 0) {
    throw new AlarmConfigError(
      `the watchdog schedule "${schedules.watchdog}" runs every ${period} s: the "watchdog stopped" alarm needs whole minutes of at most a day between runs`,
    );
  }
  const periods = Math.max(1, Math.min(SILENT_INTERVALS, Math.floor(DAY_SECONDS / period)));
  return {
    id: 'AlarmWatchdogSilent',
    name: `${app}-${stage}-watchdog-silent`,
    description:
      `pgwarden (${stage}): the watchdog reported no check for ${periods} × ${schedules.watchdog}. ` +
      `Nothing watches the databases' connections: look at the ${deployedFunctionName({ app, stage, fn: 'watchdog' })} logs and its schedule.`,
    namespace: METRICS_NAMESPACE,
    metricName: METRIC.checksRun,
    dimensions: { service: serviceName('watchdog'), stage },
    statistic: 'Sum',
    periodSeconds: period,
    evaluationPeriods: periods,
    datapointsToAlarm: periods,
    threshold: 1,
    comparisonOperator: 'LessThanThreshold',
    treatMissingData: 'breaching',
  };
}

const pascal = (text: string) => text.replace(/(^|-)([a-z])/g, (_, _dash: string, c: string) => c.toUpperCase());

/**
 * Every alarm of a stage: dead deliveries (one per function that can make one), a non-empty dead-letter queue,
 * errors of each function, and the watchdog heartbeat.
 *
 * @example planAlarms({ app: 'pgwarden', stage: 'production', schedules: schedulesFor('production'), dlqName: 'pgwarden-production-AlertsDlq' })
 */
export function planAlarms<Q>(input: { app: string; stage: string; schedules: Schedules; dlqName: Q }): AlarmPlan<Q>[] {
  const { app, stage } = input;
  const minute = { periodSeconds: 60, evaluationPeriods: 1, datapointsToAlarm: 1 };
  const deadDeliveries = DEAD_DELIVERY_SOURCES.map(
    (fn): AlarmPlan<Q> => ({
      id: `AlarmDeadDeliveries${pascal(fn)}`,
      name: `${app}-${stage}-dead-deliveries-${fn}`,
      description:
        `pgwarden (${stage}): ${fn} gave up on an alert delivery (dead). It will not be retried: ` +
        '`pgwarden deliveries --status dead` shows why, `pgwarden requeue <id>` sends it again.',
      namespace: METRICS_NAMESPACE,
      metricName: METRIC.deadDeliveries,
      dimensions: { service: serviceName(fn), stage },
      statistic: 'Sum',
      ...minute,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      // No datapoint: the function did not run, so nothing died.
      treatMissingData: 'notBreaching',
    }),
  );
  const dlq: AlarmPlan<Q> = {
    id: 'AlarmDlqNotEmpty',
    name: `${app}-${stage}-dlq-not-empty`,
    description:
      `pgwarden (${stage}): messages no sender could process (malformed, crash loop) reached the alerts dead-letter queue. ` +
      'Read them from the queue (stack output alertsDlq); they are kept 14 days.',
    namespace: 'AWS/SQS',
    metricName: 'ApproximateNumberOfMessagesVisible',
    dimensions: { QueueName: input.dlqName },
    statistic: 'Maximum',
    periodSeconds: 300,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    threshold: 0,
    comparisonOperator: 'GreaterThanThreshold',
    // SQS stops reporting a queue nobody polls after six hours: keep the alarm's state rather than turn OK.
    treatMissingData: 'ignore',
  };
  const errors = FUNCTION_NAMES.map(
    (fn): AlarmPlan<Q> => ({
      id: `AlarmErrors${pascal(fn)}`,
      name: `${app}-${stage}-errors-${fn}`,
      description: `pgwarden (${stage}): ${deployedFunctionName({ app, stage, fn })} failed (an invocation threw or timed out). Its logs say why.`,
      namespace: 'AWS/Lambda',
      metricName: 'Errors',
      dimensions: { FunctionName: deployedFunctionName({ app, stage, fn }) },
      statistic: 'Sum',
      ...minute,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
    }),
  );
  return [...deadDeliveries, dlq, ...errors, silentWatchdogAlarm(app, stage, input.schedules)];
}

/** Who gets the alarms, read at deploy time: `PGWARDEN_ALARM_EMAIL` (comma-separated addresses). */
export function alarmEmailsFrom(env: Record<string, string | undefined>): string[] {
  const emails = (env.PGWARDEN_ALARM_EMAIL ?? '')
    .split(',')
    .map((email) => email.trim())
    .filter(Boolean);
  const invalid = emails.filter((email) => !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email));
  if (invalid.length > 0) throw new AlarmConfigError(`PGWARDEN_ALARM_EMAIL: not an email address: ${invalid.join(', ')}`);
  return emails;
}
