/** Errors of the cluster client. Each sets `name`, takes `{ cause }`, and carries what a caller decides on. */
export class DbError extends Error {
  override name = 'DbError';
}

/** No node can take the query: no primary known (discovery found none) or every candidate failed. */
export class NoHealthyNodeError extends DbError {
  override name = 'NoHealthyNodeError';
  readonly nodes: readonly string[];
  constructor(message: string, options: { nodes: readonly string[]; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.nodes = options.nodes;
  }
}

/** The cluster was closed; create a new one. */
export class ClusterClosedError extends DbError {
  override name = 'ClusterClosedError';
  constructor(operation: string) {
    super(`${operation} called on a cluster client that has already been closed`);
  }
}

/** Every attempt failed with a retryable error; `cause` is the last one. */
export class RetryExhaustedError extends DbError {
  override name = 'RetryExhaustedError';
  readonly attempts: number;
  /** SQLSTATE (or errno code) of the last failure, when it had one. */
  readonly code: string | undefined;
  constructor(attempts: number, cause: unknown) {
    super(`gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.attempts = attempts;
    this.code = pgErrorCode(cause);
  }
}

/** The SQLSTATE of a server error (`23505`), or the errno code of a socket error (`ECONNREFUSED`). */
export function pgErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && cause !== error ? pgErrorCode(cause) : undefined;
}

const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

// pg reports a lost or never-established connection with plain messages rather than codes.
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'connection timeout',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'not queryable',
  'Client was closed',
  'Connection ended',
  'socket hang up',
];

/** True for failures of the connection itself: refused, reset, timed out, terminated, SQLSTATE class 08. */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof AggregateError) return error.errors.some(isConnectionError);
  const code = pgErrorCode(error);
  if (code && (SOCKET_CODES.has(code) || code.startsWith('08'))) return true;
  // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now: the server is going or not yet there.
  if (code === '57P01' || code === '57P02' || code === '57P03') return true;
  const message = error instanceof Error ? error.message : '';
  return CONNECTION_MESSAGES.some((m) => message.includes(m));
}

/**
 * True when trying again may succeed: connection failures, serialization failure (40001), deadlock (40P01),
 * admin shutdown (57P01). Never constraint violations, syntax or permission errors.
 */
export function isRetryable(error: unknown): boolean {
  const code = pgErrorCode(error);
  if (code === '40001' || code === '40P01') return true;
  return isConnectionError(error);
}

/** SQLSTATE class 23: unique, foreign key, not null, check, exclusion violations. */
export function isConstraintViolation(error: unknown): boolean {
  return pgErrorCode(error)?.startsWith('23') ?? false;
}

/** 25006: a write reached a server in recovery (a demoted primary, or a replica). */
export function isReadOnlyError(error: unknown): boolean {
  return pgErrorCode(error) === '25006';
}
