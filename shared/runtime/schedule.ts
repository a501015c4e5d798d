import { Cron } from 'croner';

/** An EventBridge schedule expression as the local runtime runs it. */
export type Schedule = { kind: 'rate'; everyMs: number; expression: string } | { kind: 'cron'; pattern: string; expression: string };

const RATE = /^rate\((\d+)\s+(second|seconds|minute|minutes|hour|hours|day|days)\)$/;
const UNIT_MS: Record<string, number> = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/**
 * Parses `rate(5 minutes)` or `cron(0/5 * * * ? *)` (EventBridge's six fields: minutes hours day-of-month
 * month day-of-week year), with EventBridge's rules: the unit is singular for 1 only (`rate(1 minute)`).
 * `rate(N seconds)` is accepted for local runs unless `deployable` is set (EventBridge's floor is a minute):
 * infra/ checks the expressions it deploys with `{ deployable: true }`, so both read them the same way.
 *
 * @example parseSchedule('cron(0 12 ? * MON-FRI *)') // { kind: 'cron', pattern: '0 12 * * MON-FRI' }
 */
export function parseSchedule(expression: string, options: { deployable?: boolean } = {}): Schedule {
  const text = expression.trim();
  const rate = RATE.exec(text);
  if (rate) {
    const count = Number(rate[1]);
    const unit = rate[2] as string;
    const singular = unit.replace(/s$/, '');
    if (count <= 0) throw new Error(`invalid schedule "${expression}": the rate must be positive`);
    if ((count === 1) !== (unit === singular)) {
      throw new Error(
        `invalid schedule "${expression}": write "rate(1 ${singular})" for one, "rate(${count === 1 ? 2 : count} ${singular}s)" for more`,
      );
    }
    if (options.deployable && singular === 'second') {
      throw new Error(`invalid schedule "${expression}": EventBridge Scheduler's finest rate is 1 minute`);
    }
    return { kind: 'rate', everyMs: count * (UNIT_MS[singular] as number), expression: text };
  }
  const cron = /^cron\((.+)\)$/.exec(text);
  if (cron) {
    const fields = (cron[1] as string).trim().split(/\s+/);
    if (fields.length !== 6)
      throw new Error(
        `invalid schedule "${expression}": EventBridge cron has 6 fields (minutes hours day-of-month month day-of-week year)`,
      );
    const [minutes, hours, dom, month, dow, year] = fields as [string, string, string, string, string, string];
    if (year !== '*' && !/^\d{4}(-\d{4})?$/.test(year))
      throw new Error(`invalid schedule "${expression}": only * or a year range is supported in the year field`);
    // EventBridge numbers days of week 1-7 from Sunday; croner (like Vixie cron) 0-6. Names mean the same in both.
    const croneDow = dow === '?' ? '*' : dow.replace(/\d/g, (d) => String((Number(d) + 6) % 7));
    // EventBridge's `5/15` means "from 5, every 15"; croner wants the range spelled out: `5-59/15`.
    const stepFrom = (field: string, max: number) => field.replace(/^(\d+)\/(\d+)$/, `$1-${max}/$2`);
    const pattern = [stepFrom(minutes, 59), stepFrom(hours, 23), dom === '?' ? '*' : stepFrom(dom, 31), stepFrom(month, 12), croneDow].join(
      ' ',
    );
    try {
      new Cron(pattern, { paused: true }).stop();
    } catch (error) {
      throw new Error(`invalid schedule "${expression}": ${(error as Error).message}`);
    }
    return { kind: 'cron', pattern, expression: text };
  }
  throw new Error(`invalid schedule "${expression}": expected rate(N minutes) or cron(min hour dom month dow year)`);
}

export interface ScheduledJob {
  stop(): void;
  /** Resolves when the run in progress (if any) has finished. */
  idle(): Promise<void>;
}

/**
 * Runs `task` on the schedule with croner; a run still in progress when the next is due is skipped
 * (`protect`), as a Lambda with reserved concurrency 1 would be. Runs once at start when `runAtStart`.
 */
export function scheduleJob(
  schedule: Schedule,
  task: () => Promise<void>,
  options: { runAtStart?: boolean; onError?: (error: unknown) => void } = {},
): ScheduledJob {
  let running: Promise<void> | undefined;
  const fire = () => {
    if (running) return;
    running = task()
      .catch((error) => options.onError?.(error))
      .finally(() => {
        running = undefined;
      });
  };
  const cron =
    schedule.kind === 'rate'
      ? new Cron('* * * * * *', { interval: Math.max(1, Math.round(schedule.everyMs / 1000)), protect: true }, fire)
      : new Cron(schedule.pattern, { protect: true }, fire);
  if (options.runAtStart) fire();
  return {
    stop: () => cron.stop(),
    idle: async () => {
      await running;
    },
  };
}
