/** EventBridge Scheduler schedules for the scheduled functions; expressions per stage in infra/schedules-config.ts. */
import { SCHEDULED_FUNCTIONS, type ScheduledFunction, schedulesFor } from './schedules-config.ts';

export function createSchedules(functions: Record<ScheduledFunction, sst.aws.Function>) {
  const schedules = schedulesFor($app.stage, process.env);
  const logical = { watchdog: 'WatchdogSchedule', topology: 'TopologySchedule', sweep: 'SweepSchedule' } as const;
  return Object.fromEntries(
    SCHEDULED_FUNCTIONS.map((fn) => [
      fn,
      new sst.aws.CronV2(logical[fn], {
        function: functions[fn],
        schedule: schedules[fn],
        // A missed run is replaced by the next one a minute later; retrying a stale check adds nothing.
        retries: 0,
        event: { source: 'pgwarden.schedule', function: fn },
      }),
    ]),
  ) as Record<ScheduledFunction, sst.aws.CronV2>;
}
