import { describe, expect, it } from 'vitest';
import { parseSchedule } from '../../shared/runtime/schedule.ts';

describe('parseSchedule', () => {
  it('reads EventBridge rate expressions', () => {
    expect(parseSchedule('rate(1 minute)')).toMatchObject({ kind: 'rate', everyMs: 60_000 });
    expect(parseSchedule('rate(5 minutes)')).toMatchObject({ kind: 'rate', everyMs: 300_000 });
    expect(parseSchedule('rate(10 seconds)')).toMatchObject({ kind: 'rate', everyMs: 10_000 });
  });

  it('turns EventBridge cron (6 fields, ?, days 1-7 from Sunday) into croner patterns', () => {
    expect(parseSchedule('cron(0/5 * * * ? *)')).toMatchObject({ kind: 'cron', pattern: '0-59/5 * * * *' });
    expect(parseSchedule('cron(0 12 ? * MON-FRI *)')).toMatchObject({ pattern: '0 12 * * MON-FRI' });
    expect(parseSchedule('cron(0 8 ? * 2-6 *)')).toMatchObject({ pattern: '0 8 * * 1-5' });
  });

  it('says what is wrong with a bad expression', () => {
    expect(() => parseSchedule('every minute')).toThrow(/expected rate\(N minutes\) or cron/);
    expect(() => parseSchedule('cron(* * * *)')).toThrow(/6 fields/);
    expect(() => parseSchedule('rate(0 minutes)')).toThrow(/positive/);
  });
});

describe('schedulesFor (what infra deploys, read by the same parser)', () => {
  it('refuses what EventBridge refuses: seconds, and a plural unit for one', async () => {
    const { schedulesFor } = await import('../../infra/schedules-config.ts');
    expect(schedulesFor('dev').watchdog).toBe('rate(5 minutes)');
    expect(() => schedulesFor('prod', { PGWARDEN_SCHEDULE_SWEEP: 'rate(10 seconds)' })).toThrow(/finest rate is 1 minute/);
    expect(() => schedulesFor('prod', { PGWARDEN_SCHEDULE_WATCHDOG: 'rate(1 minutes)' })).toThrow(/write "rate\(1 minute\)" for one/);
  });
});
