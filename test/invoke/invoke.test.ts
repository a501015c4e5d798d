import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeLambda, startFakeLambda } from '../harness/fakes/lambda.ts';

const ROOT = join(import.meta.dirname, '..', '..');

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

let lambda: FakeLambda;
let scratch: string;

/** Runs the real CLI in a child process against the fake, with dummy credentials and no AWS profile. */
function pgwarden(args: string[], env: Record<string, string | undefined> = {}, cwd = scratch): Promise<CliRun> {
  const base: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: scratch,
    AWS_ENDPOINT_URL_LAMBDA: lambda.url,
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    AWS_REGION: 'eu-west-1',
    AWS_CONFIG_FILE: join(scratch, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'no-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    PGWARDEN_STAGE: 'ci',
  };
  return new Promise((resolve) => {
    execFile(
      join(ROOT, 'node_modules', '.bin', 'node'),
      [join(ROOT, 'bin', 'pgwarden.ts'), 'invoke', ...args],
      { cwd, env: { ...base, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'pgwarden-invoke-'));
  lambda = await startFakeLambda({
    region: 'eu-west-1',
    functions: {
      'pgwarden-ci-watchdog': (event) => ({
        result: { checked: 3, alerts: 1, echo: event },
        logs: 'level=info msg="watchdog run" clusters=1\n',
      }),
      'pgwarden-prod-sweep': () => ({ result: { requeued: 2 } }),
      'custom-sweeper': () => ({ result: { requeued: 0 } }),
      'pgwarden-ci-requeue': () => ({
        error: { errorType: 'DeliveryNotFoundError', errorMessage: 'no delivery with id 42' },
        logs: 'level=error msg="requeue failed" id=42\n',
      }),
      'pgwarden-ci-topology': () => ({ result: null }),
    },
  });
});

afterAll(async () => {
  await lambda?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('pgwarden invoke', () => {
  it('invokes <app>-<stage>-<function> with the payload and prints the result on stdout and the log tail on stderr', async () => {
    const run = await pgwarden(['watchdog', '--payload', '{"source":"manual","cluster":"main"}']);

    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ checked: 3, alerts: 1, echo: { source: 'manual', cluster: 'main' } });
    expect(run.stderr).toContain('msg="watchdog run" clusters=1');
    expect(run.stderr).toMatch(/^START RequestId: /m);
    const call = lambda.invocations.at(-1);
    expect(call).toMatchObject({ functionName: 'pgwarden-ci-watchdog', invocationType: 'RequestResponse', logType: 'Tail' });
  });

  it('sends {} when no payload is given and prints null for a handler that returns nothing', async () => {
    const run = await pgwarden(['topology']);

    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe('null');
    expect(lambda.invocations.at(-1)).toMatchObject({ functionName: 'pgwarden-ci-topology', event: {} });
  });

  it('takes the stage from --stage over PGWARDEN_STAGE, and the app from --app', async () => {
    const byStage = await pgwarden(['sweep', '--stage', 'prod']);
    expect(byStage.code).toBe(0);
    expect(JSON.parse(byStage.stdout)).toEqual({ requeued: 2 });

    const byApp = await pgwarden(['sweep', '--app', 'other', '--stage', 'prod']);
    expect(byApp.code).toBe(1);
    expect(byApp.stderr).toContain('no Lambda function "other-prod-sweep" in eu-west-1');
  });

  it('uses the personal stage saved in .sst/stage when no stage variable is set', async () => {
    const project = mkdtempSync(join(scratch, 'project-'));
    mkdirSync(join(project, '.sst'));
    writeFileSync(join(project, '.sst', 'stage'), 'prod\n');
    const run = await pgwarden(['sweep'], { PGWARDEN_STAGE: undefined }, project);

    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ requeued: 2 });
    expect(lambda.invocations.at(-1)?.functionName).toBe('pgwarden-prod-sweep');
  });

  it('invokes the name given with --function instead of the convention, also as an ARN', async () => {
    const byName = await pgwarden(['sweep', '--function', 'custom-sweeper']);
    expect(byName.code).toBe(0);
    expect(JSON.parse(byName.stdout)).toEqual({ requeued: 0 });

    const byArn = await pgwarden(['sweep', '--function', 'arn:aws:lambda:eu-west-1:123456789012:function:custom-sweeper']);
    expect(byArn.code).toBe(0);
    expect(lambda.invocations.at(-1)?.functionName).toBe('custom-sweeper');
  });

  it('exits 1 on a function error, showing the error type and message and the log tail', async () => {
    const run = await pgwarden(['requeue', '--payload', '{"id":42}']);

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('pgwarden-ci-requeue failed (Unhandled): DeliveryNotFoundError: no delivery with id 42');
    expect(run.stderr).toContain('msg="requeue failed" id=42');
    expect(JSON.parse(run.stdout)).toMatchObject({ errorType: 'DeliveryNotFoundError', errorMessage: 'no delivery with id 42' });
  });

  it('exits 1 with the resolved name and a hint when the function is not deployed', async () => {
    const run = await pgwarden(['send-slack', '--stage', 'nowhere']);

    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('no Lambda function "pgwarden-nowhere-send-slack" in eu-west-1');
    expect(run.stderr).toContain('--stage');
  });

  it('exits 2 on a payload that is not JSON, before calling Lambda', async () => {
    const before = lambda.invocations.length;
    const run = await pgwarden(['watchdog', '--payload', '{"source":']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--payload is not valid JSON');
    expect(lambda.invocations.length).toBe(before);
  });

  it('reads the payload from @file', async () => {
    const file = join(scratch, 'event.json');
    writeFileSync(file, JSON.stringify({ Records: [] }));
    const run = await pgwarden(['watchdog', '--payload', `@${file}`]);

    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).echo).toEqual({ Records: [] });
  });

  it('exits 2 for a function pgwarden does not deploy, and when no region is known', async () => {
    const unknown = await pgwarden(['backup']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown function "backup" (one of watchdog, topology, sweep, requeue, send-slack, send-loki)');

    const noRegion = await pgwarden(['watchdog'], { AWS_REGION: '' });
    expect(noRegion.code).toBe(2);
    expect(noRegion.stderr).toContain('no AWS region: pass --region or set AWS_REGION');
  });

  it('takes the region from --region', async () => {
    const run = await pgwarden(['send-loki', '--region', 'ap-south-1', '--stage', 'nowhere']);

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('in ap-south-1');
  });
});
