/** Errors of the watchdog. Expected outcomes (an unreachable node, a failed stats query) are values, not these. */
export class WatchdogError extends Error {
  override name = 'WatchdogError';
}

/** The watchdog was called with options it cannot work with (which option, what was given, what is allowed). */
export class WatchdogOptionsError extends WatchdogError {
  override name = 'WatchdogOptionsError';
  readonly option: string;
  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super(`${option}: ${message}`, options);
    this.option = option;
  }
}

/** Publishing the events of a check failed (the channels did not get them); `cause` is the publisher's error. */
export class WatchdogPublishError extends WatchdogError {
  override name = 'WatchdogPublishError';
  readonly cluster: string;
  /** True when the events are in the delivery ledger already (only the hand-off to the queue failed). */
  readonly recorded: boolean;
  constructor(cluster: string, options: { cause: unknown; recorded?: boolean }) {
    super(`publishing the alerts of cluster ${cluster} failed`, { cause: options.cause });
    this.cluster = cluster;
    this.recorded = options.recorded ?? false;
  }
}
