/** Base class of every error the delivery module throws. Expected send failures are ledger states, not errors. */
export class DeliveryError extends Error {
  override name = 'DeliveryError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The queue refused messages (after the adapter's own retries). `failed` lists the delivery ids not queued. */
export class DeliveryQueueError extends DeliveryError {
  override name = 'DeliveryQueueError';
  readonly failed: readonly string[];

  constructor(message: string, failed: readonly string[], options?: { cause?: unknown }) {
    super(message, options);
    this.failed = failed;
  }
}

/** The control database has no `pgwarden.deliveries` table: `pgwarden migrate up` was not run. */
export class DeliveryLedgerMissingError extends DeliveryError {
  override name = 'DeliveryLedgerMissingError';

  constructor(options?: { cause?: unknown }) {
    super('the delivery ledger (pgwarden.deliveries) does not exist in the control database: run `pgwarden migrate up`', options);
  }
}

/** A delivery function was called with options it cannot work with (which option, what was given, what is allowed). */
export class DeliveryUsageError extends DeliveryError {
  override name = 'DeliveryUsageError';
  readonly option: string;

  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super(`${option}: ${message}`, options);
    this.option = option;
  }
}
