/** Base class of every error shared/k8s throws. Expected outcomes (unchanged, lost a lease race) are values. */
export class K8sError extends Error {
  override name = 'K8sError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An adapter was built with options it cannot work with, or no Kubernetes configuration could be found. */
export class K8sOptionsError extends K8sError {
  override name = 'K8sOptionsError';
  /** The option at fault, like `kubeconfig` or `renewDeadlineMs`. */
  readonly option: string;

  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super(`${option}: ${message}`, options);
    this.option = option;
  }
}

/** A call to the Kubernetes API failed: a status code from the server, or no answer at all (`status` undefined). */
export class K8sApiError extends K8sError {
  override name = 'K8sApiError';
  /** The HTTP status (404, 409, 422, 500, …), undefined when the request never got an answer. */
  readonly status: number | undefined;
  /** The Status object's `reason` (`NotFound`, `Conflict`, `AlreadyExists`, `Invalid`, …) when there was one. */
  readonly reason: string | undefined;
  /** What was attempted, like `replace EndpointSlice db/postgres-rw-pgwarden-5432`. */
  readonly operation: string;

  constructor(operation: string, status: number | undefined, reason: string | undefined, detail: string, options?: { cause?: unknown }) {
    super(`${operation}: ${status === undefined ? 'no answer' : `HTTP ${status}${reason ? ` ${reason}` : ''}`}: ${detail}`, options);
    this.operation = operation;
    this.status = status;
    this.reason = reason;
  }
}

/** A resourceVersion-guarded write kept losing to other writers after every allowed retry. */
export class K8sConflictError extends K8sError {
  override name = 'K8sConflictError';
  readonly attempts: number;

  constructor(what: string, attempts: number, options?: { cause?: unknown }) {
    super(`${what}: still conflicting after ${attempts} attempts (someone else keeps changing it)`, options);
    this.attempts = attempts;
  }
}

/** An address could not be turned into an IPv4 address an EndpointSlice or Endpoints object accepts. */
export class K8sAddressError extends K8sError {
  override name = 'K8sAddressError';
  /** The host as given. */
  readonly host: string;

  constructor(host: string, message: string, options?: { cause?: unknown }) {
    super(`address ${JSON.stringify(host)}: ${message}`, options);
    this.host = host;
  }
}
