/**
 * `pgwarden invoke <function>`: runs a deployed function through the Lambda API (what the schedules and the
 * queue do, on demand). The function's result goes to stdout as JSON, its log tail to stderr.
 */
import type { Command } from 'commander';
import {
  APP_NAME,
  defaultStage,
  deployedFunctionName,
  FUNCTION_NAMES,
  InvokeFunctionNotFoundError,
  InvokeUsageError,
  invokeFunction,
  isFunctionName,
} from '../../shared/invoke/index.ts';
import { redact } from '../../shared/redact/index.ts';
import { CliExit, EXIT_FAILED, EXIT_OK, EXIT_USAGE, printJson, runCommand } from '../cli.ts';

interface InvokeFlags {
  payload?: string;
  stage?: string;
  region?: string;
  function?: string;
  app: string;
}

/** Registers `pgwarden invoke`. */
export function registerInvoke(program: Command): void {
  program
    .command('invoke')
    .description('invoke a deployed function through the Lambda API: its result on stdout, its log tail on stderr')
    .argument('<function>', FUNCTION_NAMES.join(' | '))
    .option('--payload <json>', 'the event, as JSON or @file.json (default {})')
    .option('--stage <stage>', 'the SST stage (default PGWARDEN_STAGE, SST_STAGE, .sst/stage, else your user name)')
    .option('--region <region>', 'AWS region (default AWS_REGION or the profile)')
    .option('--function <name>', 'the deployed function name or ARN, instead of <app>-<stage>-<function>')
    .option('--app <name>', 'the SST app name', APP_NAME)
    .action((fn: string, flags: InvokeFlags) => runCommand(() => invoke(fn, flags)));
}

async function invoke(fn: string, flags: InvokeFlags): Promise<number> {
  if (!isFunctionName(fn)) {
    throw new CliExit(EXIT_USAGE, `unknown function "${fn}" (one of ${FUNCTION_NAMES.join(', ')})`);
  }
  try {
    const functionName = flags.function ?? deployedFunctionName({ app: flags.app, stage: flags.stage ?? defaultStage(), fn });
    const outcome = await invokeFunction({ functionName, payload: flags.payload, region: flags.region });
    if (outcome.logTail) {
      process.stderr.write(redact(outcome.logTail.endsWith('\n') ? outcome.logTail : `${outcome.logTail}\n`));
    }
    printJson(outcome.result);
    if (outcome.functionError) {
      const { kind, errorType, errorMessage } = outcome.functionError;
      const what = [errorType, errorMessage].filter(Boolean).join(': ') || 'no error details';
      throw new CliExit(EXIT_FAILED, redact(`${functionName} failed (${kind}): ${what}`));
    }
    return EXIT_OK;
  } catch (error) {
    if (error instanceof InvokeUsageError) throw new CliExit(EXIT_USAGE, error.message);
    if (error instanceof InvokeFunctionNotFoundError) {
      const hint = flags.function ? '' : ' (deployed with another --stage or --app? or pass --function)';
      throw new CliExit(EXIT_FAILED, `${error.message}${hint}`);
    }
    throw error;
  }
}
