/** The pure parts: verdicts from probes and the endpoints plan, on probes shaped like probeCluster's. */
import { describe, expect, it } from 'vitest';
import {
  endpointsSignature,
  type NodeProbe,
  parseLsn,
  planEndpoints,
  TopologyOptionsError,
  verifyTopology,
} from '../../shared/topology/index.ts';

const base = (node: string, port: number) => ({ node, host: 'db.internal', ip: `10.0.0.${port - 5430}`, port, durationMs: 3 });
const primary = (node: string, port: number, timeline = 1): NodeProbe => ({
  ...base(node, port),
  state: 'primary',
  timeline,
  currentLsn: '0/3000000',
});
const replica = (node: string, port: number, lagBytes: number | null): NodeProbe => ({
  ...base(node, port),
  state: 'replica',
  timeline: 1,
  receiveLsn: '0/3000000',
  replayLsn: '0/3000000',
  replayPaused: false,
  lagBytes,
  lagSeconds: 0,
});
const names = { namespace: 'db', rwService: 'pg-rw', roService: 'pg-ro' };

describe('verifyTopology and planEndpoints', () => {
  it('plans RW on the primary and RO on replicas within the lag limit, with the port override and a signature per object', () => {
    const verdict = verifyTopology([primary('a', 5431), replica('b', 5432, 1024), replica('c', 5433, 2048), replica('d', 5434, null)]);
    expect(verdict.kind).toBe('ok');
    const plan = planEndpoints(verdict, { ...names, port: 5432, maxLagBytes: 1500 });
    if (plan.kind !== 'planned') throw new Error(`expected a plan, got ${plan.kind}`);
    expect(plan.rw).toEqual({
      service: 'pg-rw',
      namespace: 'db',
      addresses: [{ ip: '10.0.0.1', port: 5432, node: 'a' }],
      signature: endpointsSignature([{ ip: '10.0.0.1', port: 5432 }]),
    });
    expect(plan.ro.addresses).toEqual([{ ip: '10.0.0.2', port: 5432, node: 'b' }]);
    expect(plan.ro.signature).toBe(endpointsSignature(plan.ro.addresses));
    expect(plan.excluded).toEqual([
      { node: 'c', reason: 'lagging', lagBytes: 2048 },
      { node: 'd', reason: 'lag_unknown', lagBytes: null },
    ]);
    expect(plan.roFallback).toBe(false);
  });

  it('plans RW on the newer timeline of two primaries, and on nobody when they share one', () => {
    const resolved = verifyTopology([primary('a', 5431), primary('b', 5432, 2)]);
    expect(resolved).toMatchObject({ kind: 'multiple_primaries', primary: { node: 'b' }, superseded: [{ node: 'a' }] });
    const newer = planEndpoints(resolved, names);
    if (newer.kind !== 'planned') throw new Error(`expected a plan, got ${newer.kind}`);
    expect(newer.rw.addresses).toEqual([{ ip: '10.0.0.2', port: 5432, node: 'b' }]);
    // No replica: RO falls back to the primary that takes writes, never to the superseded one.
    expect(newer.ro.addresses).toEqual([{ ip: '10.0.0.2', port: 5432, node: 'b' }]);

    const split = verifyTopology([primary('a', 5431), primary('b', 5432), replica('c', 5433, 0)]);
    expect(split).toMatchObject({
      kind: 'multiple_primaries',
      primaries: [{ node: 'a' }, { node: 'b' }],
      primary: null,
      superseded: [],
      replicas: [{ node: 'c' }],
    });
    const nowhere = planEndpoints(split, names);
    if (nowhere.kind !== 'planned') throw new Error(`expected a plan, got ${nowhere.kind}`);
    expect(nowhere.rw).toEqual({ service: 'pg-rw', namespace: 'db', addresses: [], signature: endpointsSignature([]) });
    expect(nowhere.ro.addresses).toEqual([{ ip: '10.0.0.3', port: 5433, node: 'c' }]);
    const noReplica = planEndpoints(verifyTopology([primary('a', 5431), primary('b', 5432)]), names);
    expect(noReplica).toMatchObject({ kind: 'planned', rw: { addresses: [] }, ro: { addresses: [] }, roFallback: false });
  });

  it('blocks planning when no node is primary, as a value', () => {
    const none = verifyTopology([
      { ...base('a', 5431), state: 'down', error: 'connect ECONNREFUSED' },
      { ...base('b', 5432), state: 'unknown', error: '28P01 password authentication failed' },
    ]);
    expect(none).toMatchObject({ kind: 'no_primary', down: [{ node: 'a' }], unknown: [{ node: 'b' }] });
    expect(planEndpoints(none, names)).toEqual({ kind: 'blocked', verdict: 'no_primary' });
  });

  it('names the option, the value and the range on misuse', () => {
    const verdict = verifyTopology([primary('a', 5431)]);
    expect(() => planEndpoints(verdict, { ...names, maxLagBytes: -1 })).toThrow(TopologyOptionsError);
    expect(() => planEndpoints(verdict, { ...names, maxLagBytes: -1 })).toThrow('maxLagBytes: expected a number of bytes ≥ 0, got -1');
    expect(() => planEndpoints(verdict, { ...names, port: 70_000 })).toThrow('port: expected a TCP port 1–65535, got 70000');
    expect(() => parseLsn('3000000')).toThrow('expected a WAL location like 16/B374D848, got "3000000"');
    expect(parseLsn('1/0') - parseLsn('0/FFFFFFFF')).toBe(1n);
  });
});
