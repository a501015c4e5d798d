/**
 * The schedule of each scheduled function, per stage: `infra/schedules.ts` deploys these expressions to EventBridge
 * Scheduler and the local runtime (`pgwarden dev`) runs the same ones. Pure: no SST globals, safe to import anywhere.
 *
 * Expressions are EventBridge Scheduler's: `rate(<n> minute|minutes|hour|hours|day|days)` or
 * `cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)`, in UTC
 * (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html). A minute is the finest grain.
 */

import { parseSchedule } from '../shared/runtime/schedule.ts';

export const SCHEDULED_FUNCTIONS = ['watchdog', 'topology', 'sweep'] as const;

export type ScheduledFunction = (typeof SCHEDULED_FUNCTIONS)[number];

export type ScheduleExpression = `rate(${string})` | `cron(${string})`;

export type Schedules = Record<ScheduledFunction, ScheduleExpression>;

/**
 * Every stage not listed in `STAGE_SCHEDULES`, production included: a minute is EventBridge's finest grain and what
 * an on-call engineer expects for "too many connections" and "the primary moved"; the sweeper re-enqueues retries
 * whose backoff is counted in minutes (2^n minutes, capped at 1 hour), so it needs nothing finer either.
 */
export const DEFAULT_SCHEDULES: Schedules = {
  watchdog: 'rate(1 minute)',
  topology: 'rate(1 minute)',
  sweep: 'rate(1 minute)',
};

/** Per-stage overrides. `dev` (a shared test stage) checks less often: it guards test clusters, and costs less. */
export const STAGE_SCHEDULES: Record<string, Partial<Schedules>> = {
  dev: { watchdog: 'rate(5 minutes)', topology: 'rate(5 minutes)', sweep: 'rate(5 minutes)' },
};

/** An invalid schedule expression: names the function and what is allowed. */
export class ScheduleConfigError extends Error {
  override name = 'ScheduleConfigError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The schedules for a stage: defaults < `STAGE_SCHEDULES[stage]` < `PGWARDEN_SCHEDULE_<FUNCTION>` in `env`
 * (read at deploy time, e.g. `PGWARDEN_SCHEDULE_WATCHDOG='rate(2 minutes)' sst deploy`). Every expression is checked.
 */
export function schedulesFor(stage: string, env: Record<string, string | undefined> = {}): Schedules {
  const schedules = { ...DEFAULT_SCHEDULES, ...STAGE_SCHEDULES[stage] };
  const problems: string[] = [];
  for (const fn of SCHEDULED_FUNCTIONS) {
    const variable = `PGWARDEN_SCHEDULE_${fn.toUpperCase()}`;
    const override = env[variable];
    if (override) schedules[fn] = override as ScheduleExpression;
    try {
      parseSchedule(schedules[fn], { deployable: true });
    } catch (error) {
      problems.push(`${fn}${override ? ` (${variable})` : ''}: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ScheduleConfigError(`invalid schedules for stage "${stage}":\n  - ${problems.join('\n  - ')}`);
  return schedules;
}
