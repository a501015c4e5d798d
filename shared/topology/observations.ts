import type { AlertEvent, AlertRule, NewAlertEvent } from '../alerts/index.ts';
import { formatBytes } from '../config/index.ts';
import type { NodeProbe } from './probe.ts';
import type { TopologyVerdict } from './verify.ts';

/** Builds one event of this cluster's run (the cluster, client and namespace are filled in). */
export type MakeEvent = (input: Omit<NewAlertEvent, 'cluster' | 'client' | 'namespace'>) => AlertEvent;

const list = (names: readonly string[]) => (names.length > 0 ? names.join(', ') : 'none');

/**
 * Every lifecycle rule evaluated this run, one observation per dedup key: `firing` when breached, `resolved`
 * when it holds fine. Nodes whose lag is unknown (down, unknown) are not observed for replica_lag.
 */
export function lifecycleObservations(
  cluster: string,
  verdict: TopologyVerdict,
  probes: readonly NodeProbe[],
  maxLagBytes: number,
  makeEvent: MakeEvent,
): AlertEvent[] {
  const observe = (
    rule: AlertRule,
    breached: boolean,
    fields: { summary: string; node?: string; value?: number; threshold?: number; labels?: Record<string, string> },
  ) =>
    makeEvent({
      rule,
      severity: rule === 'node_down' || rule === 'replica_lag' ? 'warning' : 'critical',
      status: breached ? 'firing' : 'resolved',
      ...fields,
    });
  const names = (state: NodeProbe['state']) => probes.filter((p) => p.state === state).map((p) => p.node);
  const out: AlertEvent[] = [];

  if (verdict.kind === 'multiple_primaries') {
    const claims = verdict.primaries.map((p) => `${p.node} (timeline ${p.timeline ?? '?'}, LSN ${p.currentLsn})`);
    const outcome = verdict.primary
      ? `read-write endpoints point at ${verdict.primary.node}, on the newest timeline; superseded: ${list(verdict.superseded.map((p) => p.node))}`
      : 'their timelines do not tell which is newest: read-write endpoints emptied';
    out.push(
      observe('multiple_primaries', true, {
        value: verdict.primaries.length,
        summary: `${verdict.primaries.length} nodes claim to be primary: ${claims.join(', ')}; replicas: ${list(names('replica'))}; down: ${list(names('down'))}; ${outcome}`,
        labels: {
          primaries: verdict.primaries.map((p) => p.node).join(','),
          ...(verdict.primary ? { primary: verdict.primary.node, superseded: verdict.superseded.map((p) => p.node).join(',') } : {}),
        },
      }),
    );
  } else {
    out.push(
      observe('multiple_primaries', false, { value: names('primary').length, summary: `${cluster} no longer has several primaries` }),
    );
  }

  if (verdict.kind === 'no_primary') {
    out.push(
      observe('no_primary', true, {
        value: 0,
        summary: `no node of ${cluster} is primary: replicas: ${list(names('replica'))}; down: ${list(names('down'))}; unknown: ${list(names('unknown'))}; endpoints left unchanged`,
      }),
    );
  } else {
    out.push(observe('no_primary', false, { value: names('primary').length, summary: `${cluster} has a primary again` }));
  }

  for (const probe of probes) {
    const address = `${probe.host}:${probe.port}`;
    out.push(
      probe.state === 'down'
        ? observe('node_down', true, { node: probe.node, summary: `${probe.node} (${address}) is down: ${probe.error}` })
        : observe('node_down', false, { node: probe.node, summary: `${probe.node} (${address}) answers again (${probe.state})` }),
    );
    if (probe.state === 'replica' && probe.lagBytes !== null) {
      const lagging = probe.lagBytes > maxLagBytes;
      const paused = probe.replayPaused ? ' (replay is paused)' : '';
      out.push(
        observe('replica_lag', lagging, {
          node: probe.node,
          value: probe.lagBytes,
          threshold: maxLagBytes,
          summary: lagging
            ? `${probe.node} is ${formatBytes(probe.lagBytes)} behind the primary${paused}, over ${formatBytes(maxLagBytes)}: left out of read-only endpoints`
            : `${probe.node} is ${formatBytes(probe.lagBytes)} behind, within ${formatBytes(maxLagBytes)}`,
        }),
      );
    } else if (probe.state === 'primary') {
      out.push(
        observe('replica_lag', false, { node: probe.node, value: 0, threshold: maxLagBytes, summary: `${probe.node} is primary now` }),
      );
    }
  }
  return out;
}
