/**
 * Private helpers around @kubernetes/client-node: per-request timeouts and turning its `ApiException`
 * (and undici's transport errors) into K8sApiError. Nothing here leaves shared/k8s.
 */
import { ApiException, type ConfigurationOptions, Observable, type ObservableMiddleware } from '@kubernetes/client-node';
import { redact } from '../redact/index.ts';
import { K8sApiError } from './errors.ts';

/**
 * Call options that abort a request after `timeoutMs`. The generated client has no timeout of its own (undici
 * waits minutes for headers), and a hung API server must cost one deadline, not a stuck loop.
 */
export function requestOptions(timeoutMs: number): ConfigurationOptions<ObservableMiddleware> {
  const timeout: ObservableMiddleware = {
    pre: (context) => {
      context.setSignal(AbortSignal.timeout(timeoutMs));
      return new Observable(Promise.resolve(context));
    },
    post: (context) => new Observable(Promise.resolve(context)),
  };
  return { middleware: [timeout], middlewareMergeStrategy: 'append' };
}

interface StatusBody {
  reason?: string;
  message?: string;
}

function parseStatus(body: unknown): StatusBody {
  if (typeof body === 'string') {
    try {
      return parseStatus(JSON.parse(body));
    } catch {
      return { message: body.slice(0, 500) };
    }
  }
  if (typeof body === 'object' && body !== null) {
    const { reason, message } = body as Record<string, unknown>;
    return { reason: typeof reason === 'string' ? reason : undefined, message: typeof message === 'string' ? message : undefined };
  }
  return {};
}

/** The HTTP status of a failed call, or undefined when the server never answered. */
export function statusOf(error: unknown): number | undefined {
  if (error instanceof K8sApiError) return error.status;
  if (error instanceof ApiException) return error.code;
  return undefined;
}

/** Wraps any failure of a client call into a K8sApiError naming the operation; the cause is kept. */
export function toApiError(operation: string, error: unknown): K8sApiError {
  if (error instanceof K8sApiError) return error;
  if (error instanceof ApiException) {
    const status = parseStatus(error.body);
    const code = error.code as number;
    return new K8sApiError(
      operation,
      code,
      status.reason,
      redact(status.message ?? (code === 401 ? 'Unauthorized' : 'no Status message')),
      { cause: error },
    );
  }
  const message =
    error instanceof Error
      ? `${error.name}: ${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}`
      : String(error);
  return new K8sApiError(operation, undefined, undefined, redact(message), { cause: error });
}

/** Runs one client call, translating its failure. */
export async function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toApiError(operation, error);
  }
}
