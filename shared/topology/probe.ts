import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { mapWithConcurrency } from '../concurrency/index.ts';
import type { NodeConfig } from '../config/index.ts';
import { nodeAddress } from '../config/index.ts';
import { isRetryable, parseLsn, RetryExhaustedError, withConnection, withRetry } from '../db/index.ts';
import type { Logger } from '../log/index.ts';
import { silentLogger } from '../log/index.ts';
import { type NodeReading, observeNode } from '../nodes/index.ts';
import { describeError } from '../redact/index.ts';
import { ProbeConnectError, ProbeQueryError, TopologyOptionsError } from './errors.ts';

/** What every probe carries: which node, where it was reached, and how long the probe took. */
interface ProbeBase {
  node: string;
  /** The host as written in the node URL. */
  host: string;
  /** The host resolved to an IP address (what endpoints hold); null when resolution failed. */
  ip: string | null;
  port: number;
  durationMs: number;
}

/** A node that says `pg_is_in_recovery() = false`. */
export interface PrimaryProbe extends ProbeBase {
  state: 'primary';
  /** The timeline the node writes on (from its current WAL file name, so it is right at once after a promote). */
  timeline: number | null;
  /** `pg_current_wal_lsn()`. */
  currentLsn: string;
}

/** A node in recovery (a streaming or archive standby). */
export interface ReplicaProbe extends ProbeBase {
  state: 'replica';
  /** The timeline received from upstream, else the last restartpoint's. */
  timeline: number | null;
  receiveLsn: string | null;
  replayLsn: string | null;
  /** `pg_is_wal_replay_paused()`: replay stopped by hand, so lag will grow. */
  replayPaused: boolean;
  /**
   * Bytes of WAL not yet replayed: the primary's current LSN minus this node's replay LSN when exactly one primary
   * was probed, else received minus replayed. Never negative; null when neither can be computed.
   */
  lagBytes: number | null;
  /** Seconds since the last replayed transaction, 0 when everything received is replayed; null when unknown. */
  lagSeconds: number | null;
}

/** A node that could not be reached: DNS failure, refused, or no answer within the connect timeout. */
export interface DownProbe extends ProbeBase {
  state: 'down';
  error: string;
}

/** A node that answered but whose probe failed (authentication, permissions, query errors or timeouts). */
export interface UnknownProbe extends ProbeBase {
  state: 'unknown';
  error: string;
}

export type NodeProbe = PrimaryProbe | ReplicaProbe | DownProbe | UnknownProbe;
export type NodeState = NodeProbe['state'];

export interface ProbeOptions {
  /** TCP connect + startup/auth handshake limit per attempt. Default 3 s. */
  connectTimeoutMs?: number;
  /** Limit on the probe query per attempt. Default 3 s. */
  queryTimeoutMs?: number;
  /** Extra attempts of the query after a retryable failure (full-jitter backoff). Default 2. */
  retries?: number;
  /** Nodes probed at once. Default 64. */
  concurrency?: number;
  logger?: Logger;
  /** Uniform random in [0, 1) for the backoff jitter; injected by tests. */
  random?: () => number;
  /** Resolves a host name to an IP address. Default: the OS resolver (`dns.lookup`). */
  lookup?: (host: string) => Promise<string>;
}

/** Bytes from `from` to `to`, never below 0 (two probes are not taken at the same instant). */
function lsnDistance(to: string, from: string): number {
  const diff = parseLsn(to) - parseLsn(from);
  return diff > 0n ? Number(diff) : 0;
}

async function defaultLookup(host: string): Promise<string> {
  return (await dnsLookup(host)).address;
}

function checkCount(option: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new TopologyOptionsError(option, `expected a whole number ≥ ${min}, got ${value}`);
}

/** The last cause that is not a retry wrapper: what actually went wrong. */
function rootFailure(error: unknown): unknown {
  return error instanceof RetryExhaustedError ? error.cause : error;
}

/**
 * Probes one node: resolve its host, connect within the connect timeout (once: an unreachable node costs one
 * timeout, never a retry), then run the probe query, retrying retryable failures with full-jitter backoff.
 */
export async function probeNode(node: NodeConfig, options: ProbeOptions = {}): Promise<NodeProbe> {
  const connectTimeoutMs = options.connectTimeoutMs ?? 3000;
  const queryTimeoutMs = options.queryTimeoutMs ?? 3000;
  const retries = options.retries ?? 2;
  const logger = options.logger ?? silentLogger;
  const { host, port } = nodeAddress(node);
  const started = performance.now();
  const base = (ip: string | null) => ({ node: node.name, host, ip, port, durationMs: Math.round(performance.now() - started) });

  let ip: string;
  try {
    ip = isIP(host) ? host : await (options.lookup ?? defaultLookup)(host);
  } catch (error) {
    const reason = `cannot resolve ${host}: ${describeError(error)}`;
    logger.warn('topology probe: node down', { node: node.name, error: reason });
    return { ...base(null), state: 'down', error: reason };
  }

  try {
    const reading = await withRetry(
      async () => {
        let connected = false;
        try {
          return await withConnection(
            node.url,
            { connectTimeoutMs, queryTimeoutMs, applicationName: 'pgwarden-topology' },
            async (client) => {
              connected = true;
              return observeNode(client);
            },
          );
        } catch (error) {
          // A server-side refusal (auth, "starting up", too many clients) means the node is there and answering.
          if (connected || error instanceof pg.DatabaseError) throw new ProbeQueryError(node.name, { cause: error });
          throw new ProbeConnectError(node.name, { cause: error });
        }
      },
      {
        attempts: retries + 1,
        isRetryable: (error) => error instanceof ProbeQueryError && isRetryable(error.cause),
        random: options.random,
        onRetry: ({ attempt, delayMs, error }) =>
          logger.debug('topology probe: retrying', { node: node.name, attempt, delayMs, error: describeError(rootFailure(error)) }),
      },
    );
    return readingToProbe(reading, base(ip));
  } catch (caught) {
    const failure = rootFailure(caught);
    const error = describeError(failure instanceof ProbeConnectError || failure instanceof ProbeQueryError ? failure.cause : failure);
    if (failure instanceof ProbeConnectError) {
      // pg says only "timeout expired": name the limit that ran out.
      const reason = /timeout/i.test(error) ? `no answer within the ${connectTimeoutMs} ms connect timeout` : error;
      logger.warn('topology probe: node down', { node: node.name, error: reason });
      return { ...base(ip), state: 'down', error: reason };
    }
    logger.warn('topology probe: node state unknown', { node: node.name, error });
    return { ...base(ip), state: 'unknown', error };
  }
}

function readingToProbe(reading: NodeReading, base: ProbeBase): PrimaryProbe | ReplicaProbe {
  if (!reading.recovery) return { ...base, state: 'primary', timeline: reading.timeline, currentLsn: reading.currentLsn ?? '0/0' };
  const { receiveLsn, replayLsn, lagSeconds } = reading;
  return {
    ...base,
    state: 'replica',
    timeline: reading.timeline,
    receiveLsn,
    replayLsn,
    replayPaused: reading.replayPaused,
    lagBytes: receiveLsn && replayLsn ? lsnDistance(receiveLsn, replayLsn) : null,
    lagSeconds: lagSeconds === null ? null : Math.max(0, Math.round(lagSeconds * 1000) / 1000),
  };
}

/**
 * Probes every node of a cluster in parallel (at most `concurrency` at once). Never throws for a node's failure:
 * each node comes back `primary`, `replica`, `down` or `unknown`, in the order given. When exactly one primary
 * answered, replica lag in bytes is measured against its current LSN (the real distance), otherwise against what
 * each replica has received.
 *
 * @example
 * const probes = await probeCluster(cluster.nodes, { connectTimeoutMs: 1000, retries: 2 });
 * const verdict = verifyTopology(probes);
 */
export async function probeCluster(nodes: readonly NodeConfig[], options: ProbeOptions = {}): Promise<NodeProbe[]> {
  const concurrency = options.concurrency ?? 64;
  checkCount('concurrency', concurrency, 1);
  checkCount('retries', options.retries ?? 2, 0);
  for (const option of ['connectTimeoutMs', 'queryTimeoutMs'] as const) {
    const value = options[option];
    if (value !== undefined) checkCount(option, value, 1);
  }
  const probes = await mapWithConcurrency(nodes, concurrency, (node) => probeNode(node, options));
  const primaries = probes.filter((p): p is PrimaryProbe => p.state === 'primary');
  const primary = primaries.length === 1 ? primaries[0] : undefined;
  if (!primary) return probes;
  return probes.map((probe) =>
    probe.state === 'replica' && probe.replayLsn ? { ...probe, lagBytes: lsnDistance(primary.currentLsn, probe.replayLsn) } : probe,
  );
}
