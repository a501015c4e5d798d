import type { AlertEvent, AlertPublisher, AlertStateStore, LifecycleTiming } from '../alerts/index.ts';
import {
  applyAndPublish,
  createAlertEvent,
  createAlertStateStore,
  createMemoryAlertStateStore,
  previewAlerts,
  rethrowCause,
} from '../alerts/index.ts';
import type { ClusterConfig, TopologySettings } from '../config/index.ts';
import { formatBytes } from '../config/index.ts';
import type { Cluster } from '../db/index.ts';
import type { Logger } from '../log/index.ts';
import { silentLogger } from '../log/index.ts';
import { describeError } from '../redact/index.ts';
import type { DesiredEndpoints, EndpointAddress, EndpointsWriter } from './endpoints.ts';
import { endpointsSignature } from './endpoints.ts';
import { lifecycleObservations, type MakeEvent } from './observations.ts';
import { type EndpointsPlan, planEndpoints } from './plan.ts';
import { type NodeProbe, type PrimaryProbe, probeCluster } from './probe.ts';
import { type TopologyVerdict, verifyTopology, writablePrimary } from './verify.ts';

/** A node as the result names it. */
export interface NodeRef {
  node: string;
  host: string;
  port: number;
}

export interface ReplicaStatus extends NodeRef {
  lagBytes: number | null;
  lagSeconds: number | null;
}

export interface FailedNode extends NodeRef {
  error: string;
}

/** What happened to one endpoints object in this run. */
export interface EndpointsWrite {
  service: string;
  /** `would_*`: a dry run found the object would be created or updated. `failed`: the read or write threw. */
  action: 'created' | 'updated' | 'unchanged' | 'would_create' | 'would_update' | 'failed';
  /** The object held addresses pgwarden had not written (someone else changed it); corrected by this write. */
  drift: boolean;
  /** What the object held before (empty when it was missing or the call failed). */
  previous: EndpointAddress[];
  error?: string;
}

/** The outcome of one topology run: what `pgwarden topology --json` prints for a cluster. */
export interface TopologyResult {
  cluster: string;
  verdict: TopologyVerdict['kind'];
  /**
   * The node the RW endpoints point at: the one primary, or with several the one on a strictly newer timeline;
   * null when no node may take writes (none is primary, or several cannot be ordered).
   */
  primary: NodeRef | null;
  /** Every node that said it is primary (two or more is split brain). */
  primaries: NodeRef[];
  replicas: ReplicaStatus[];
  down: FailedNode[];
  unknown: FailedNode[];
  /** What the read-write and read-only endpoints should hold (RW empty: writes go nowhere); null with no primary. */
  desired: { rw: EndpointAddress[]; ro: EndpointAddress[] } | null;
  /** `managed`: written; `dry_run`: read and compared only; `unmanaged`: no Kubernetes writer (or disabled). */
  endpoints: 'managed' | 'dry_run' | 'unmanaged';
  writes: EndpointsWrite[];
  /** An object was (or, in a dry run, would be) created or updated. */
  changed: boolean;
  /** Every planned object was written or already right. */
  applied: boolean;
  /** The alert events this run published (in a dry run: would have published). */
  events: AlertEvent[];
}

export interface RunTopologyOptions {
  cluster: ClusterConfig;
  /** The cluster's settings: `topologySettingsFor(config, cluster)`. */
  settings: TopologySettings;
  /** Where endpoints are written; without one (or with `manageEndpoints: false`) the run only probes and alerts. */
  writer?: EndpointsWriter;
  /** The control database: node_down, replica_lag, no_primary and multiple_primaries follow the alert lifecycle there. */
  stateDb?: Cluster;
  /** A lifecycle store to use instead of one over `stateDb` (the CLI's in-memory store across `--interval` runs). */
  alertStore?: AlertStateStore;
  /** Lifecycle timing. Default: fire at once, repeat every 4 h. */
  timing?: LifecycleTiming;
  publisher: AlertPublisher;
  logger?: Logger;
  clock?: () => Date;
  /** Probe and plan, read the objects to say what would change; write nothing, publish nothing. */
  dryRun?: boolean;
  /** The previous run's result in this process: tells a primary change when there is no RW object to read. */
  previous?: TopologyResult;
  /** Random source for the probe retry jitter; injected by tests. */
  random?: () => number;
  /** Host name resolver for the probe. Default: the OS resolver. */
  lookup?: (host: string) => Promise<string>;
}

const DEFAULT_TIMING: LifecycleTiming = { forMs: 0, repeatIntervalMs: 4 * 3_600_000 };

const ref = (probe: NodeProbe): NodeRef => ({ node: probe.node, host: probe.host, port: probe.port });
const list = (names: readonly string[]) => (names.length > 0 ? names.join(', ') : 'none');
const hostPort = (a: EndpointAddress) => `${a.ip}:${a.port}`;

/**
 * One topology run for one cluster: probe every node, settle who is primary (shared/nodes' one rule), plan the RW
 * and RO endpoints, write each object on its own (a failure on one does not stop the other, and heals on the next
 * run), and raise events: `multiple_primaries` (critical; RW follows the strictly newer timeline, or is emptied
 * when the primaries cannot be ordered), `no_primary` (critical; nothing is written), `topology_changed` when
 * the RW target moves, `endpoints_drift` when an object was changed by someone else, and `node_down` /
 * `replica_lag` through the alert lifecycle. Node failures and unsafe topologies are values in the result;
 * only a broken publisher or control database throws.
 *
 * @example
 * const result = await runTopology({ cluster, settings: topologySettingsFor(config, cluster), writer, publisher });
 * if (result.verdict !== 'ok') process.exitCode = 1;
 */
export async function runTopology(options: RunTopologyOptions): Promise<TopologyResult> {
  const { cluster, settings } = options;
  const logger = (options.logger ?? silentLogger).child({ cluster: cluster.name });
  const clock = options.clock ?? (() => new Date());
  const dryRun = options.dryRun ?? false;
  const timing = options.timing ?? DEFAULT_TIMING;
  const writer = settings.manageEndpoints ? options.writer : undefined;

  const probes = await probeCluster(cluster.nodes, {
    connectTimeoutMs: settings.connectTimeout,
    queryTimeoutMs: settings.queryTimeout,
    retries: settings.retries,
    concurrency: settings.concurrency,
    logger,
    random: options.random,
    lookup: options.lookup,
  });
  const verdict = verifyTopology(probes);
  const routed = writablePrimary(verdict);
  const plan = planEndpoints(verdict, {
    namespace: settings.namespace,
    rwService: settings.rwService,
    roService: settings.roService,
    port: settings.port,
    maxLagBytes: settings.maxLag,
    roFallbackToPrimary: settings.roFallbackToPrimary,
  });

  const writes: EndpointsWrite[] = [];
  if (writer && plan.kind === 'planned') {
    // Sequential and independent: RW first (it matters most), and RO is written even when RW failed.
    for (const desired of [plan.rw, plan.ro]) writes.push(await (dryRun ? previewWrite : applyWrite)(writer, desired, logger));
  }

  const makeEvent: MakeEvent = (input) =>
    createAlertEvent({ ...input, cluster: cluster.name, client: 'topology', namespace: settings.namespace }, clock);
  const oneOff = [
    ...changeEvents(verdict, plan, writes, probes, { previous: options.previous, port: settings.port }, makeEvent),
    ...driftEvents(plan, writes, makeEvent),
  ];
  const observations = lifecycleObservations(cluster.name, verdict, probes, settings.maxLag, makeEvent);

  const store =
    options.alertStore ?? (options.stateDb ? createAlertStateStore(options.stateDb, { clock }) : createMemoryAlertStateStore({ clock }));
  let events: AlertEvent[];
  if (dryRun) {
    events = [...oneOff, ...(await previewAlerts(store, cluster.name, observations, clock(), timing))];
  } else {
    if (oneOff.length > 0) await options.publisher.publish(oneOff);
    // Recorded in the lifecycle's transaction, queued after COMMIT: a fleet never starves the pool (issue 13).
    const published = await applyAndPublish(store, { lockKey: cluster.name, observations, timing }, options.publisher).catch(rethrowCause);
    await published.dispatch().catch(rethrowCause);
    events = [...oneOff, ...published.events];
  }

  const result: TopologyResult = {
    cluster: cluster.name,
    verdict: verdict.kind,
    primary: routed ? ref(routed) : null,
    primaries: verdict.kind === 'ok' ? [ref(verdict.primary)] : verdict.kind === 'multiple_primaries' ? verdict.primaries.map(ref) : [],
    replicas: verdict.replicas.map((r) => ({ ...ref(r), lagBytes: r.lagBytes, lagSeconds: r.lagSeconds })),
    down: verdict.down.map((p) => ({ ...ref(p), error: p.error })),
    unknown: verdict.unknown.map((p) => ({ ...ref(p), error: p.error })),
    desired: plan.kind === 'planned' ? { rw: plan.rw.addresses, ro: plan.ro.addresses } : null,
    endpoints: writer ? (dryRun ? 'dry_run' : 'managed') : 'unmanaged',
    writes,
    changed: writes.some(
      (w) => w.action === 'created' || w.action === 'updated' || w.action === 'would_create' || w.action === 'would_update',
    ),
    applied: Boolean(writer) && !dryRun && plan.kind === 'planned' && writes.every((w) => w.action !== 'failed'),
    events,
  };
  logRun(logger, result, plan, Boolean(options.writer) && !settings.manageEndpoints);
  return result;
}

async function applyWrite(writer: EndpointsWriter, desired: DesiredEndpoints, logger: Logger): Promise<EndpointsWrite> {
  try {
    const outcome = await writer.apply(desired);
    if (outcome.action !== 'unchanged') {
      logger.info(`topology: ${desired.service} ${outcome.action}`, {
        namespace: desired.namespace,
        addresses: desired.addresses.map(hostPort).join(','),
        previous: outcome.previous.map(hostPort).join(','),
        drift: outcome.drift,
      });
    }
    return { service: desired.service, action: outcome.action, drift: outcome.drift, previous: outcome.previous };
  } catch (error) {
    const message = describeError(error);
    logger.error(`topology: writing ${desired.service} failed; the next run tries again`, { namespace: desired.namespace, error: message });
    return { service: desired.service, action: 'failed', drift: false, previous: [], error: message };
  }
}

async function previewWrite(writer: EndpointsWriter, desired: DesiredEndpoints, logger: Logger): Promise<EndpointsWrite> {
  try {
    const current = await writer.read(desired.service, desired.namespace);
    const action = current === null ? 'would_create' : endpointsSignature(current) === desired.signature ? 'unchanged' : 'would_update';
    return { service: desired.service, action, drift: false, previous: current ?? [] };
  } catch (error) {
    const message = describeError(error);
    logger.error(`topology: reading ${desired.service} failed`, { namespace: desired.namespace, error: message });
    return { service: desired.service, action: 'failed', drift: false, previous: [], error: message };
  }
}

/** Names the nodes behind addresses (by the node hint the writer kept, else by matching a probed address). */
function namesOf(addresses: readonly EndpointAddress[], probes: readonly NodeProbe[], port: (p: NodeProbe) => number): string[] {
  return addresses.map((a) => a.node ?? probes.find((p) => p.ip === a.ip && port(p) === a.port)?.node ?? hostPort(a));
}

/**
 * `topology_changed` when the RW target moves. The old primary is what the RW object held before this run (when
 * the writer read it and it was pgwarden's own content), else the previous run's primary in this process.
 */
function changeEvents(
  verdict: TopologyVerdict,
  plan: EndpointsPlan,
  writes: readonly EndpointsWrite[],
  probes: readonly NodeProbe[],
  context: { previous: TopologyResult | undefined; port: number | undefined },
  makeEvent: MakeEvent,
): AlertEvent[] {
  const primary = writablePrimary(verdict);
  if (primary === null || plan.kind !== 'planned') return [];
  const { previous } = context;
  const port = (p: NodeProbe) => context.port ?? p.port;
  const rwWrite = writes.find((w) => w.service === plan.rw.service);
  let oldNames: string[] | undefined;
  if (rwWrite && rwWrite.action !== 'failed' && !rwWrite.drift && rwWrite.previous.length > 0) {
    if (endpointsSignature(rwWrite.previous) !== plan.rw.signature) oldNames = namesOf(rwWrite.previous, probes, port);
  } else if (previous?.primary && previous.primary.node !== primary.node) {
    oldNames = [previous.primary.node];
  }
  if (!oldNames) return [];

  const oldStates = oldNames.map((name) => {
    const probe = probes.find((p) => p.node === name);
    return probe ? `${name} (now ${probe.state})` : name;
  });
  // The lag at the time: how far the new primary was behind when it was last seen as a replica.
  const lastLag = previous?.replicas.find((r) => r.node === primary.node)?.lagBytes ?? null;
  const replicaLag = verdict.replicas.map((r) => `${r.node} ${r.lagBytes === null ? '?' : formatBytes(r.lagBytes)}`);
  const summary =
    `${primaryLabel(primary)} is now primary, was ${list(oldStates)}` +
    (lastLag !== null ? `; it was ${formatBytes(lastLag)} behind at the previous probe` : '') +
    `; replica lag: ${list(replicaLag)}`;
  return [
    makeEvent({
      rule: 'topology_changed',
      severity: 'warning',
      status: 'firing',
      node: primary.node,
      value: lastLag ?? undefined,
      summary,
      labels: {
        previous_primary: oldNames.join(','),
        primary: primary.node,
        ...(primary.timeline !== null ? { timeline: String(primary.timeline) } : {}),
        ...(lastLag !== null ? { lag_bytes: String(lastLag) } : {}),
      },
    }),
  ];
}

function primaryLabel(primary: PrimaryProbe): string {
  return `${primary.node} (${primary.host}:${primary.port}${primary.timeline !== null ? `, timeline ${primary.timeline}` : ''})`;
}

/** `endpoints_drift` for every object the writer found changed by someone else (and corrected). */
function driftEvents(plan: EndpointsPlan, writes: readonly EndpointsWrite[], makeEvent: MakeEvent): AlertEvent[] {
  if (plan.kind !== 'planned') return [];
  return writes
    .filter((w) => w.drift && w.action !== 'failed')
    .map((w) => {
      const desired = w.service === plan.rw.service ? plan.rw : plan.ro;
      const found = w.previous.length > 0 ? w.previous.map(hostPort).join(', ') : 'no addresses';
      const restored = desired.addresses.map((a) => `${a.node ?? ''}${a.node ? ' ' : ''}${hostPort(a)}`).join(', ') || 'no addresses';
      return makeEvent({
        rule: 'endpoints_drift',
        severity: 'warning',
        status: 'firing',
        node: w.service === plan.rw.service ? desired.addresses[0]?.node : undefined,
        summary: `${w.service} in ${desired.namespace} held ${found}, which pgwarden did not write; restored ${restored}`,
        labels: { service: w.service, found, restored },
      });
    });
}

function logRun(logger: Logger, result: TopologyResult, plan: EndpointsPlan, disabled: boolean): void {
  const fields = {
    verdict: result.verdict,
    primary: result.primary?.node,
    replicas: result.replicas.map((r) => r.node).join(',') || undefined,
    down: result.down.map((r) => r.node).join(',') || undefined,
    unknown: result.unknown.map((r) => r.node).join(',') || undefined,
    ro: plan.kind === 'planned' ? plan.ro.addresses.map((a) => a.node ?? hostPort(a)).join(',') : undefined,
    roFallback: plan.kind === 'planned' && plan.roFallback ? true : undefined,
    endpoints: result.endpoints,
    changed: result.changed,
    events: result.events.length,
  };
  if (result.verdict === 'ok') logger.info('topology checked', fields);
  else if (plan.kind === 'blocked') logger.error(`topology unsafe (${result.verdict}): endpoints left unchanged`, fields);
  else if (result.primary) logger.error(`topology unsafe (${result.verdict}): read-write follows the newest timeline`, fields);
  else logger.error(`topology unsafe (${result.verdict}): the primaries cannot be ordered; read-write endpoints emptied`, fields);
  if (disabled) logger.info('topology: manageEndpoints is off; endpoints are not written');
}
