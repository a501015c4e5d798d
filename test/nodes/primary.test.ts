import { describe, expect, it } from 'vitest';
import { choosePrimary, type RoleObservation, writeTarget } from '../../shared/nodes/index.ts';

const node = (name: string, writable: boolean, timeline: number | null): RoleObservation => ({ name, writable, timeline });
const names = (list: readonly RoleObservation[]) => list.map((n) => n.name);

describe('choosePrimary', () => {
  it('gives writes to the one writable node, whatever its timeline', () => {
    const verdict = choosePrimary([node('pg-0', true, null), node('pg-1', false, 1), node('pg-2', false, 7)]);
    expect(verdict).toEqual({ kind: 'single', primary: node('pg-0', true, null) });
    expect(writeTarget(verdict)?.name).toBe('pg-0');
  });

  it('gives writes to the node on a strictly newer timeline and names the superseded ones', () => {
    const verdict = choosePrimary([node('pg-0', true, 1), node('pg-1', false, 3), node('pg-2', true, 3), node('pg-3', true, 2)]);
    expect(verdict.kind).toBe('superseded');
    if (verdict.kind !== 'superseded') return;
    expect(verdict.primary.name).toBe('pg-2');
    expect(verdict.timeline).toBe(3);
    expect(names(verdict.superseded)).toEqual(['pg-0', 'pg-3']);
    expect(writeTarget(verdict)?.name).toBe('pg-2');
  });

  it('gives writes to nobody when the highest timeline is shared', () => {
    const verdict = choosePrimary([node('pg-0', true, 2), node('pg-1', true, 2), node('pg-2', true, 1)]);
    expect(verdict.kind).toBe('ambiguous');
    if (verdict.kind !== 'ambiguous') return;
    expect(names(verdict.candidates)).toEqual(['pg-0', 'pg-1', 'pg-2']);
    expect(verdict.timeline).toBe(2);
    expect(writeTarget(verdict)).toBeNull();
  });

  it('gives writes to nobody when a writable node’s timeline is unknown, even beside a higher known one', () => {
    const verdict = choosePrimary([node('pg-0', true, 5), node('pg-1', true, null)]);
    expect(verdict).toEqual({ kind: 'ambiguous', candidates: [node('pg-0', true, 5), node('pg-1', true, null)], timeline: 5 });
    expect(choosePrimary([node('a', true, null), node('b', true, null)])).toMatchObject({ kind: 'ambiguous', timeline: null });
  });

  it('says none when no node is writable', () => {
    expect(choosePrimary([node('pg-0', false, 2), node('pg-1', false, 2)])).toEqual({ kind: 'none' });
    expect(choosePrimary([])).toEqual({ kind: 'none' });
    expect(writeTarget(choosePrimary([]))).toBeNull();
  });

  it('returns the caller’s own objects, so their extra fields survive', () => {
    const probes = [
      { name: 'pg-0', writable: true, timeline: 1, port: 5432 },
      { name: 'pg-1', writable: true, timeline: 2, port: 5433 },
    ];
    expect(writeTarget(choosePrimary(probes))?.port).toBe(5433);
  });
});
