/** Base of every error the proxy module throws. */
export class ProxyError extends Error {
  override name = 'ProxyError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The proxy was given options it cannot run with (no nodes, a duplicate name, a VIP without an interface). */
export class ProxyOptionsError extends ProxyError {
  override name = 'ProxyOptionsError';
}

/** A listener or the HTTP API could not bind its port. */
export class ProxyListenError extends ProxyError {
  override name = 'ProxyListenError';
  readonly port: number;
  constructor(message: string, port: number, options?: { cause?: unknown }) {
    super(message, options);
    this.port = port;
  }
}

/** An `ip`/`arping` command for the floating address failed. */
export class AddressCommandError extends ProxyError {
  override name = 'AddressCommandError';
  readonly command: string;
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(message: string, fields: { command: string; exitCode: number | null; stderr: string }, options?: { cause?: unknown }) {
    super(message, options);
    this.command = fields.command;
    this.exitCode = fields.exitCode;
    this.stderr = fields.stderr;
  }
}
