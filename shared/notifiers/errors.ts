/** Base class of every error the notifiers throw. Expected send failures are `SendOutcome` values, not errors. */
export class NotifierError extends Error {
  override name = 'NotifierError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A notifier was built with options it cannot work with (a bad URL, a bad label name, two kinds of auth). */
export class NotifierOptionsError extends NotifierError {
  override name = 'NotifierOptionsError';
  /** The option at fault, like `url` or `labels.team-name`. */
  readonly option: string;

  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super(`${option}: ${message}`, options);
    this.option = option;
  }
}
