/** Errors of the topology module. Expected outcomes (a node down, two primaries) are values, not these. */
export class TopologyError extends Error {
  override name = 'TopologyError';
}

/** A caller passed an option outside what is allowed; the message names the option, the value and the range. */
export class TopologyOptionsError extends TopologyError {
  override name = 'TopologyOptionsError';
  readonly option: string;
  constructor(option: string, message: string, options: { cause?: unknown } = {}) {
    super(`${option}: ${message}`, { cause: options.cause });
    this.option = option;
  }
}

/** A node could not be reached: DNS, TCP or the connect timeout failed before the server answered. */
export class ProbeConnectError extends TopologyError {
  override name = 'ProbeConnectError';
  readonly node: string;
  constructor(node: string, options: { cause?: unknown } = {}) {
    super(`cannot connect to ${node}`, { cause: options.cause });
    this.node = node;
  }
}

/** A node answered but the probe query (or the session start: auth, startup) failed. */
export class ProbeQueryError extends TopologyError {
  override name = 'ProbeQueryError';
  readonly node: string;
  constructor(node: string, options: { cause?: unknown } = {}) {
    super(`the probe query failed on ${node}`, { cause: options.cause });
    this.node = node;
  }
}
