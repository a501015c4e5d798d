/** Base class of every error `shared/invoke` throws. */
export class InvokeError extends Error {
  override name = 'InvokeError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The request cannot be made as given: bad payload JSON, unknown function, no region. The CLI exits 2. */
export class InvokeUsageError extends InvokeError {
  override name = 'InvokeUsageError';
}

/** Lambda has no function by that name in that region (`ResourceNotFoundException`). */
export class InvokeFunctionNotFoundError extends InvokeError {
  override name = 'InvokeFunctionNotFoundError';
  readonly functionName: string;
  readonly region: string;

  constructor(functionName: string, region: string, options?: { cause?: unknown }) {
    super(`no Lambda function "${functionName}" in ${region}`, options);
    this.functionName = functionName;
    this.region = region;
  }
}

/** The Lambda API refused or failed the call itself (credentials, throttling, service errors), not the function. */
export class InvokeApiError extends InvokeError {
  override name = 'InvokeApiError';
  /** The AWS error code, like `AccessDeniedException` or `TooManyRequestsException` (unset for network errors). */
  readonly errorCode: string | undefined;

  constructor(message: string, errorCode: string | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.errorCode = errorCode;
  }
}
