import pg from 'pg';
import type { Logger } from '../log/index.ts';
import { silentLogger } from '../log/index.ts';
import { choosePrimary, describeClaims, observeNode, type PrimaryVerdict, type RoleObservation, writeTarget } from '../nodes/index.ts';
import { describeError, registerSecret } from '../redact/index.ts';
import { withConnection } from './connection.ts';
import {
  ClusterClosedError,
  isConnectionError,
  isReadOnlyError,
  isRetryable,
  NoHealthyNodeError,
  pgErrorCode,
  RetryExhaustedError,
} from './errors.ts';
import { backoffDelay } from './retry.ts';
import type {
  Cluster,
  ClusterOptions,
  NodeRole,
  NodeSpec,
  NodeStats,
  QueryContext,
  QueryResult,
  QueryResultRow,
  TxClient,
  TxOptions,
} from './types.ts';

interface NodeHandle {
  name: string;
  address: string;
  url: string;
  pool: pg.Pool;
  /** Fixed by configuration, or learnt from pg_is_in_recovery() in discovery mode. */
  role: NodeRole;
  /** The timeline the last health check read (discovery mode orders two primaries by it); null until known. */
  timeline: number | null;
  healthy: boolean;
  consecutiveFailures: number;
  lastError?: string;
  lastCheckedAt?: Date;
}

function parseSpec(spec: NodeSpec): { name: string; url: string; address: string } {
  const url = typeof spec === 'string' ? spec : spec.url;
  let address: string;
  try {
    const parsed = new URL(url);
    if (parsed.password) registerSecret(decodeURIComponent(parsed.password));
    address = `${parsed.hostname}:${parsed.port || '5432'}`;
  } catch {
    throw new TypeError('createCluster: a node URL is not a valid postgres:// URL');
  }
  const name = typeof spec === 'string' || !spec.name ? address : spec.name;
  return { name, url, address };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A client for one PostgreSQL cluster: writes to the primary, reads round-robin over healthy replicas with
 * fallback to the primary, retries retryable failures with full-jitter backoff, and a background health
 * checker. With `nodes` instead of `primary`/`replicas`, roles and timelines are discovered, a promotion is followed
 * without a restart, and two primaries are settled by shared/nodes' rule (newer timeline, else no writes).
 *
 * @example
 * const db = createCluster({ primary: process.env.PRIMARY_URL, replicas: [process.env.REPLICA_URL] });
 * await db.exec('insert into t values ($1)', [1]);
 * const { rows } = await db.readQuery('select count(*) from t');
 * await db.close();
 */
export function createCluster(options: ClusterOptions): Cluster {
  const discovery = options.nodes !== undefined;
  if (discovery && (options.primary !== undefined || options.replicas !== undefined)) {
    throw new TypeError('createCluster: give either `nodes` (roles discovered) or `primary`/`replicas` (fixed roles), not both');
  }
  if (!discovery && options.primary === undefined) {
    throw new TypeError('createCluster: `primary` is required unless `nodes` is given');
  }
  if (discovery && options.nodes?.length === 0) throw new TypeError('createCluster: `nodes` must list at least one node');

  const logger: Logger = options.logger ?? silentLogger;
  const hooks = options.hooks ?? {};
  const Pool = options.Pool ?? pg.Pool;
  const poolOptions = options.pool ?? {};
  const retry = options.retry === false ? { attempts: 1 } : (options.retry ?? {});
  const attempts = Math.max(1, retry.attempts ?? 3);
  const baseDelayMs = retry.baseDelayMs ?? 50;
  const maxDelayMs = retry.maxDelayMs ?? 2000;
  const random = options.random ?? Math.random;
  const health = {
    intervalMs: options.healthCheck?.intervalMs ?? 5000,
    timeoutMs: options.healthCheck?.timeoutMs ?? 1000,
    failureThreshold: Math.max(1, options.healthCheck?.failureThreshold ?? 1),
  };
  const slowQueryMs = options.slowQueryMs;

  const makeNode = (spec: NodeSpec, role: NodeRole): NodeHandle => {
    const { name, url, address } = parseSpec(spec);
    const pool = new Pool({
      connectionString: url,
      max: poolOptions.max ?? 10,
      idleTimeoutMillis: poolOptions.idleTimeoutMs ?? 30_000,
      connectionTimeoutMillis: poolOptions.connectTimeoutMs ?? 5000,
      statement_timeout: poolOptions.statementTimeoutMs,
      query_timeout: poolOptions.queryTimeoutMs,
      application_name: poolOptions.applicationName ?? 'pgwarden',
      keepAlive: true,
    });
    const node: NodeHandle = { name, address, url, pool, role, timeline: null, healthy: true, consecutiveFailures: 0 };
    // An idle client's socket can die (server restart); pg emits it on the pool. Unhandled it would crash.
    pool.on('error', (error) => {
      logger.warn('idle connection lost', { node: name, error: describeError(error) });
    });
    return node;
  };

  const nodes: NodeHandle[] = discovery
    ? (options.nodes ?? []).map((spec) => makeNode(spec, 'unknown'))
    : [makeNode(options.primary as NodeSpec, 'primary'), ...(options.replicas ?? []).map((spec) => makeNode(spec, 'replica'))];
  const names = new Set<string>();
  for (const node of nodes) {
    if (names.has(node.name)) throw new TypeError(`createCluster: two nodes are named "${node.name}"; give them distinct names`);
    names.add(node.name);
  }

  let closed = false;
  let roundRobin = 0;
  let discovering: Promise<void> | undefined;

  const setHealth = (node: NodeHandle, healthy: boolean, error?: unknown) => {
    node.lastCheckedAt = new Date();
    if (healthy) {
      node.consecutiveFailures = 0;
      node.lastError = undefined;
    } else {
      node.consecutiveFailures++;
      node.lastError = describeError(error);
    }
    const next = healthy ? true : node.consecutiveFailures >= health.failureThreshold ? false : node.healthy;
    if (next !== node.healthy) {
      node.healthy = next;
      logger[next ? 'info' : 'warn'](next ? 'node healthy' : 'node unhealthy', { node: node.name, role: node.role, error: node.lastError });
      hooks.onNodeChange?.({ node: node.name, healthy: next, role: node.role });
    }
  };

  const setRole = (node: NodeHandle, role: NodeRole) => {
    if (node.role === role) return;
    const previous = node.role;
    node.role = role;
    if (previous !== 'unknown' || role === 'primary') logger.info('node role changed', { node: node.name, from: previous, to: role });
    hooks.onNodeChange?.({ node: node.name, healthy: node.healthy, role });
  };

  /** One health check: a fresh connection (not the pool's) so a wedged pool cannot hide a healthy server. */
  const checkNode = async (node: NodeHandle): Promise<void> => {
    try {
      const { recovery, timeline } = await withConnection(
        node.url,
        {
          connectTimeoutMs: health.timeoutMs,
          queryTimeoutMs: health.timeoutMs,
          applicationName: `${poolOptions.applicationName ?? 'pgwarden'}-health`,
        },
        observeNode,
      );
      node.timeline = timeline;
      if (discovery) setRole(node, recovery ? 'replica' : 'primary');
      setHealth(node, true);
    } catch (error) {
      setHealth(node, false, error);
    }
  };

  const checkHealth = async (): Promise<void> => {
    if (closed) return;
    await Promise.all(nodes.map(checkNode));
    if (!discovery) return;
    const verdict = whoIsPrimary();
    if (verdict.kind === 'ambiguous' || verdict.kind === 'superseded') {
      const claims = verdict.kind === 'ambiguous' ? verdict.candidates : [verdict.primary, ...verdict.superseded];
      logger.error(
        verdict.kind === 'ambiguous'
          ? 'more than one node claims to be primary and their timelines do not order them; writes are refused'
          : `more than one node claims to be primary; writes go to ${verdict.primary.name}, on the newest timeline`,
        { primaries: describeClaims(claims) },
      );
    }
  };

  /** Discovery mode's answer, from the one rule (shared/nodes): a superseded primary never takes writes. */
  const whoIsPrimary = (): PrimaryVerdict<RoleObservation & { handle: NodeHandle }> =>
    choosePrimary(nodes.map((n) => ({ handle: n, name: n.name, writable: n.healthy && n.role === 'primary', timeline: n.timeline })));

  const rediscover = (): Promise<void> => {
    discovering ??= checkHealth().finally(() => {
      discovering = undefined;
    });
    return discovering;
  };

  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (closed || health.intervalMs <= 0) return;
    timer = setTimeout(() => {
      rediscover()
        .catch((error) => logger.error('health check failed', { error: describeError(error) }))
        .finally(schedule);
    }, health.intervalMs);
    // The checker must not keep a CLI or a test process alive.
    timer.unref();
  };
  schedule();

  const primaryNode = async (): Promise<NodeHandle> => {
    if (!discovery) return nodes[0] as NodeHandle;
    let verdict = whoIsPrimary();
    if (verdict.kind !== 'single' && verdict.kind !== 'superseded') {
      await rediscover();
      verdict = whoIsPrimary();
    }
    if (verdict.kind === 'single' || verdict.kind === 'superseded') return verdict.primary.handle;
    throw new NoHealthyNodeError(
      verdict.kind === 'ambiguous'
        ? `more than one node claims to be primary (${verdict.candidates.map((n) => n.name).join(', ')}) and their timelines do not tell which is newest; refusing to write`
        : 'no node is primary',
      { nodes: nodes.map((n) => n.name) },
    );
  };

  const replicaCandidates = (): NodeHandle[] => nodes.filter((n) => n.role === 'replica' && n.healthy);

  // Timing and the hook context cost on every query; only pay for them when someone looks.
  const observed = hooks.onQueryStart !== undefined || hooks.onQueryEnd !== undefined || slowQueryMs !== undefined;

  const runOn = async <R extends QueryResultRow>(node: NodeHandle, sql: string, params: unknown[] | undefined, attempt: number) => {
    const context: QueryContext | undefined = observed ? { node: node.name, role: node.role, sql, attempt } : undefined;
    if (context) hooks.onQueryStart?.(context);
    const started = observed ? performance.now() : 0;
    let client: pg.PoolClient | undefined;
    try {
      client = await node.pool.connect();
      const result = await client.query<R>(sql, params);
      client.release();
      if (context) {
        const durationMs = performance.now() - started;
        hooks.onQueryEnd?.({ ...context, durationMs, rowCount: result.rowCount });
        if (slowQueryMs !== undefined && durationMs >= slowQueryMs) {
          logger.warn('slow query', { node: node.name, durationMs: Math.round(durationMs), sql: sql.replace(/\s+/g, ' ').slice(0, 200) });
        }
      }
      return result;
    } catch (error) {
      // A connection-class failure poisons the client: destroy it rather than return it to the pool.
      client?.release(isConnectionError(error) ? (error as Error) : undefined);
      if (context) hooks.onQueryEnd?.({ ...context, durationMs: performance.now() - started, error });
      if (isConnectionError(error)) setHealth(node, false, error);
      throw error;
    }
  };

  const ensureOpen = (operation: string) => {
    if (closed) throw new ClusterClosedError(operation);
  };

  const retrying = async <T>(operation: (attempt: number) => Promise<T>, onFailure?: (error: unknown) => Promise<void>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await operation(attempt);
      } catch (error) {
        const retryable = isRetryable(error) || (discovery && isReadOnlyError(error));
        if (!retryable || closed) throw error;
        if (attempt >= attempts) throw new RetryExhaustedError(attempt, error);
        await onFailure?.(error);
        const delayMs = backoffDelay(attempt, baseDelayMs, maxDelayMs, random);
        logger.debug('retrying', { attempt, delayMs, code: pgErrorCode(error), error: describeError(error) });
        await sleep(delayMs);
      }
    }
  };

  /** In discovery mode a lost primary or a write refused as read-only means the roles may have changed. */
  const afterPrimaryFailure = async (error: unknown) => {
    if (discovery && (isConnectionError(error) || isReadOnlyError(error))) await rediscover();
  };

  const query = async <R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>> => {
    ensureOpen('query');
    return retrying(async (attempt) => runOn<R>(await primaryNode(), sql, params, attempt), afterPrimaryFailure);
  };

  const readQuery = async <R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>> => {
    ensureOpen('readQuery');
    if (discovery && nodes.every((n) => n.role === 'unknown')) await rediscover();
    return retrying(async (attempt) => {
      const replicas = replicaCandidates();
      if (replicas.length === 0) return runOn<R>(await primaryNode(), sql, params, attempt);
      const node = replicas[roundRobin++ % replicas.length] as NodeHandle;
      return runOn<R>(node, sql, params, attempt);
    });
  };

  const runTx = async <T>(fn: (tx: TxClient) => Promise<T>, txOptions: TxOptions = {}): Promise<T> => {
    ensureOpen('runTx');
    const mode = [txOptions.isolation ? `isolation level ${txOptions.isolation}` : '', txOptions.readOnly ? 'read only' : '']
      .filter(Boolean)
      .join(' ');
    const begin = mode ? `begin ${mode}` : 'begin';
    const attemptTx = async (attempt: number): Promise<T> => {
      const node = await primaryNode();
      const context: QueryContext = { node: node.name, role: node.role, sql: begin, attempt };
      const client = await node.pool.connect().catch((error: unknown) => {
        if (isConnectionError(error)) setHealth(node, false, error);
        throw error;
      });
      // While the body runs no query may be in flight, so a dying connection is emitted as 'error' on the client
      // (the pool listens only while the client is idle): unhandled, that would crash the process. The next query
      // on the client fails, and the catch below discards it.
      let lostConnection: unknown;
      const onClientError = (error: unknown) => {
        lostConnection = error;
        setHealth(node, false, error);
      };
      client.on('error', onClientError);
      let commitSent = false;
      try {
        hooks.onQueryStart?.(context);
        const started = performance.now();
        await client.query(begin);
        const result = await fn({ query: (sql, params) => client.query(sql, params) });
        commitSent = true;
        await client.query('commit');
        client.off('error', onClientError);
        client.release();
        hooks.onQueryEnd?.({ ...context, durationMs: performance.now() - started });
        return result;
      } catch (error) {
        // Rollback on any throw (also non-Error values); a failed rollback means the session is unusable.
        let rollbackFailed = false;
        if (!commitSent || !isConnectionError(error)) {
          await client.query('rollback').catch(() => {
            rollbackFailed = true;
          });
        }
        client.off('error', onClientError);
        client.release(
          rollbackFailed || lostConnection !== undefined || isConnectionError(error)
            ? new Error('transaction connection discarded')
            : undefined,
        );
        if (isConnectionError(error)) setHealth(node, false, error);
        // A connection lost after COMMIT was sent leaves the outcome unknown: never retry that.
        if (commitSent && isConnectionError(error)) throw Object.assign(error as Error, { commitUnknown: true });
        throw error;
      }
    };
    if (txOptions.retry === false) return attemptTx(1);
    return retrying(attemptTx, afterPrimaryFailure);
  };

  return {
    query,
    async exec(sql, params) {
      const result = await query(sql, params);
      return result.rowCount ?? 0;
    },
    readQuery,
    runTx,
    checkHealth: async () => {
      ensureOpen('checkHealth');
      await rediscover();
    },
    stats(): NodeStats[] {
      return nodes.map((n) => ({
        name: n.name,
        address: n.address,
        role: n.role,
        healthy: n.healthy,
        total: n.pool.totalCount,
        idle: n.pool.idleCount,
        waiting: n.pool.waitingCount,
        ...(n.lastError ? { lastError: n.lastError } : {}),
        ...(n.lastCheckedAt ? { lastCheckedAt: n.lastCheckedAt.toISOString() } : {}),
      }));
    },
    primaryName() {
      if (!discovery) return nodes[0]?.name;
      return writeTarget(whoIsPrimary())?.name;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      await discovering?.catch(() => {});
      await Promise.all(nodes.map((n) => n.pool.end().catch(() => {})));
    },
  };
}
