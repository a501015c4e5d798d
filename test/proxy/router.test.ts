import { describe, expect, it } from 'vitest';
import { type NodeObservation, parseLsn, pickLeastConnections, planRoutes } from '../../shared/proxy/index.ts';

const node = (name: string, fields: Partial<NodeObservation>): NodeObservation => ({
  name,
  up: true,
  recovery: true,
  timeline: 1,
  lsn: 1000n,
  receiveLsn: 1000n,
  drained: false,
  ...fields,
});

describe('planRoutes', () => {
  it('never routes read-write to a node in recovery, even when it is the only one up', () => {
    const plan = planRoutes([node('pg-0', { up: false, recovery: null }), node('pg-1', {})], { maxLagBytes: 100 });
    expect(plan.primary).toBeNull();
    expect(plan.rwRefusal).toBe('no_primary');
    expect(plan.replicas).toEqual(['pg-1']);
  });

  it('drops replicas lagging more than maxLag behind the primary from the read-only pool', () => {
    const plan = planRoutes([node('pg-0', { recovery: false, lsn: 5000n }), node('pg-1', { lsn: 4950n }), node('pg-2', { lsn: 1000n })], {
      maxLagBytes: 100,
    });
    expect(plan.primary).toBe('pg-0');
    expect(plan.replicas).toEqual(['pg-1']);
    expect(plan.lag).toEqual({ 'pg-1': 50, 'pg-2': 4000 });
  });

  it('prefers the primary on the strictly higher timeline and fails closed on a tie', () => {
    const resolved = planRoutes([node('a', { recovery: false, timeline: 1 }), node('b', { recovery: false, timeline: 2 })], {
      maxLagBytes: 100,
    });
    expect(resolved.primary).toBe('b');
    expect(resolved.splitBrain).toEqual({ kind: 'resolved', primaries: ['a', 'b'], chosen: 'b', timeline: 2 });
    const tie = planRoutes([node('a', { recovery: false, timeline: 3 }), node('b', { recovery: false, timeline: 3 })], {
      maxLagBytes: 100,
    });
    expect(tie.primary).toBeNull();
    expect(tie.rwRefusal).toBe('split_brain');
    // A primary whose timeline could not be read may be the newest one: no guess, read-write goes nowhere.
    const unknown = planRoutes([node('a', { recovery: false, timeline: 2 }), node('b', { recovery: false, timeline: null })], {
      maxLagBytes: 100,
    });
    expect(unknown.primary).toBeNull();
    expect(unknown.splitBrain).toEqual({ kind: 'unresolved', primaries: ['a', 'b'], timeline: 2 });
  });
});

describe('pickLeastConnections', () => {
  it('takes the least loaded replica and breaks ties round robin', () => {
    const active: Record<string, number> = { a: 2, b: 0, c: 0 };
    expect(pickLeastConnections(['a', 'b', 'c'], (n) => active[n] ?? 0, 0)).toBe('b');
    expect(pickLeastConnections(['a', 'b', 'c'], (n) => active[n] ?? 0, 2)).toBe('c');
    expect(pickLeastConnections([], () => 0, 0)).toBeNull();
  });
});

describe('parseLsn', () => {
  it('reads pg_lsn text as a byte position', () => {
    expect(parseLsn('1/0')).toBe(4294967296n);
    expect(parseLsn('0/16B3748')).toBe(0x16b3748n);
    expect(parseLsn(null)).toBeNull();
  });
});
