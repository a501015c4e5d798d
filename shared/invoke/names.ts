/**
 * The deployed functions and the naming convention `infra/` sets explicitly, so `pgwarden invoke` resolves a
 * function from app and stage with no other AWS API call. Pure: `infra/functions.ts` imports it too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { InvokeUsageError } from './errors.ts';

/** Every Lambda function pgwarden deploys, by its short name (the file `functions/<name>.ts`). */
export const FUNCTION_NAMES = ['watchdog', 'topology', 'sweep', 'requeue', 'send-slack', 'send-loki'] as const;

export type FunctionName = (typeof FUNCTION_NAMES)[number];

/** The SST app name (`sst.config.ts`), the default `--app`. */
export const APP_NAME = 'pgwarden';

/** Lambda: "1-64 characters, letters, numbers, hyphens and underscores" (CreateFunction, FunctionName). */
const LAMBDA_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function isFunctionName(value: string): value is FunctionName {
  return (FUNCTION_NAMES as readonly string[]).includes(value);
}

/**
 * The name a function is deployed under: `<app>-<stage>-<function>`.
 *
 * @example deployedFunctionName({ app: 'pgwarden', stage: 'production', fn: 'watchdog' }) // 'pgwarden-production-watchdog'
 */
export function deployedFunctionName(input: { app: string; stage: string; fn: FunctionName }): string {
  const name = `${input.app}-${input.stage}-${input.fn}`;
  if (!LAMBDA_NAME.test(name)) {
    throw new InvokeUsageError(
      `function name "${name}" (from app "${input.app}" and stage "${input.stage}") is not a valid Lambda name: ` +
        'at most 64 letters, digits, "-" or "_"',
    );
  }
  return name;
}

export interface StageSources {
  env?: NodeJS.ProcessEnv;
  /** Where `.sst/stage` (the personal stage `sst` remembers for this checkout) is looked for. */
  cwd?: string;
  username?: () => string;
}

/**
 * The stage to resolve names in when `--stage` is not given: `PGWARDEN_STAGE`, else `SST_STAGE`, else the personal
 * stage `sst` saved in `.sst/stage`, else the OS user name (what `sst` proposes for a personal stage).
 */
export function defaultStage(sources: StageSources = {}): string {
  const env = sources.env ?? process.env;
  const fromEnv = env.PGWARDEN_STAGE || env.SST_STAGE;
  if (fromEnv) return fromEnv;
  const stageFile = join(sources.cwd ?? process.cwd(), '.sst', 'stage');
  if (existsSync(stageFile)) {
    const saved = readFileSync(stageFile, 'utf8').trim();
    if (saved) return saved;
  }
  const username = (sources.username ?? (() => userInfo().username))();
  return username
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
}
