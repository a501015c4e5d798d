export { InvokeApiError, InvokeError, InvokeFunctionNotFoundError, InvokeUsageError } from './errors.ts';
export type { InvokeFunctionFailure, InvokeOptions, InvokeOutcome } from './invoke.ts';
export { invokeFunction, parsePayload } from './invoke.ts';
export type { FunctionName, StageSources } from './names.ts';
export { APP_NAME, defaultStage, deployedFunctionName, FUNCTION_NAMES, isFunctionName } from './names.ts';
