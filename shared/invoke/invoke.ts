import { readFileSync } from 'node:fs';
import { InvokeCommand, type InvokeCommandOutput, LambdaClient, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { describeError } from '../redact/index.ts';
import { InvokeApiError, InvokeFunctionNotFoundError, InvokeUsageError } from './errors.ts';

/** What a function answered. A function error is a value here: the call worked, the function threw. */
export interface InvokeOutcome {
  functionName: string;
  region: string;
  statusCode: number;
  executedVersion: string | undefined;
  /** The function's response, parsed (Lambda returns JSON; `null` when the handler returned nothing). */
  result: unknown;
  /** The last 4 KB of the invocation's log, decoded. */
  logTail: string | undefined;
  /** Set when the function failed (`X-Amz-Function-Error`): `Unhandled` for a thrown error. */
  functionError: InvokeFunctionFailure | undefined;
}

export interface InvokeFunctionFailure {
  kind: string;
  errorType: string | undefined;
  errorMessage: string | undefined;
}

export interface InvokeOptions {
  functionName: string;
  /** The event as JSON text (default `{}`). */
  payload?: string;
  /** Default: the SDK's chain (`AWS_REGION`, the profile). */
  region?: string;
  /** Default: the SDK's chain, which honours `AWS_ENDPOINT_URL_LAMBDA`. */
  endpoint?: string;
  /** A ready client (tests, or callers that share one); `region`/`endpoint` are then ignored. */
  client?: LambdaClient;
}

/**
 * Parses `--payload`: JSON text, or `@file` holding JSON. Throws `InvokeUsageError` naming the problem.
 *
 * @example parsePayload('{"source":"manual"}') // '{"source":"manual"}'
 */
export function parsePayload(text: string | undefined): string {
  if (text === undefined) return '{}';
  let json = text;
  let origin = '--payload';
  if (text.startsWith('@')) {
    origin = text.slice(1);
    try {
      json = readFileSync(origin, 'utf8');
    } catch (error) {
      throw new InvokeUsageError(`--payload ${text}: cannot read the file (${describeError(error)})`, { cause: error });
    }
  }
  try {
    JSON.parse(json);
  } catch (error) {
    throw new InvokeUsageError(`${origin} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  return json;
}

function decodeResult(payload: Uint8Array | undefined): unknown {
  if (!payload || payload.length === 0) return null;
  const text = new TextDecoder().decode(payload);
  try {
    return JSON.parse(text);
  } catch {
    // Lambda always serialises a handler's result as JSON; keep the raw text if something else answered.
    return text;
  }
}

function failureOf(kind: string, result: unknown): InvokeFunctionFailure {
  const body = typeof result === 'object' && result !== null ? (result as Record<string, unknown>) : {};
  return {
    kind,
    errorType: typeof body.errorType === 'string' ? body.errorType : undefined,
    errorMessage: typeof body.errorMessage === 'string' ? body.errorMessage : typeof result === 'string' ? result : undefined,
  };
}

/**
 * Invokes a deployed function synchronously (`RequestResponse`) with its log tail (`LogType: 'Tail'`).
 * A function error comes back as `functionError`; a missing function, bad payload or failed API call throws.
 *
 * @example
 * const outcome = await invokeFunction({ functionName: 'pgwarden-production-watchdog', payload: '{}' });
 * if (outcome.functionError) console.error(outcome.functionError.errorMessage);
 */
export async function invokeFunction(options: InvokeOptions): Promise<InvokeOutcome> {
  const payload = parsePayload(options.payload);
  // One attempt: a retried RequestResponse call after a 5xx or a timeout may run the function twice.
  const client = options.client ?? new LambdaClient({ region: options.region, endpoint: options.endpoint, maxAttempts: 1 });
  try {
    let region: string;
    try {
      region = await client.config.region();
    } catch (error) {
      throw new InvokeUsageError('no AWS region: pass --region or set AWS_REGION', { cause: error });
    }
    let response: InvokeCommandOutput;
    try {
      response = await client.send(
        new InvokeCommand({
          FunctionName: options.functionName,
          InvocationType: 'RequestResponse',
          LogType: 'Tail',
          Payload: new TextEncoder().encode(payload),
        }),
      );
    } catch (error) {
      if (error instanceof ResourceNotFoundException) {
        throw new InvokeFunctionNotFoundError(options.functionName, region, { cause: error });
      }
      const name = (error as { name?: string }).name;
      const code = name && name !== 'Error' ? name : undefined;
      throw new InvokeApiError(`invoking "${options.functionName}" in ${region} failed: ${describeError(error)}`, code, {
        cause: error,
      });
    }
    const result = decodeResult(response.Payload);
    return {
      functionName: options.functionName,
      region,
      statusCode: response.StatusCode ?? 0,
      executedVersion: response.ExecutedVersion,
      result,
      logTail: response.LogResult ? Buffer.from(response.LogResult, 'base64').toString('utf8') : undefined,
      functionError: response.FunctionError ? failureOf(response.FunctionError, result) : undefined,
    };
  } finally {
    if (!options.client) client.destroy();
  }
}
