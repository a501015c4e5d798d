/**
 * Durations are written `500ms`, `30s`, `10m`, `1h` (and `1d`); sizes `16MB`, `512kB`, `1GB` with PostgreSQL's
 * meaning (1 MB = 1024 kB, as in postgresql.conf). A bare number is milliseconds / bytes.
 */
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration into milliseconds; throws a precise message on anything else. */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw new Error(`invalid duration ${text}: expected a non-negative number of milliseconds`);
    return text;
  }
  const match = DURATION.exec(text.trim());
  if (!match) throw new Error(`invalid duration "${text}": expected a number with a unit, like 500ms, 30s, 10m, 1h`);
  return Math.round(Number(match[1]) * (DURATION_UNITS[match[2] ?? 'ms'] as number));
}

/** 90000 → `1m30s`; 500 → `500ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}s`);
  return parts.join('');
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|kB|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$/;
const SIZE_UNITS: Record<string, number> = {
  B: 1,
  kB: 1024,
  KB: 1024,
  KiB: 1024,
  MB: 1024 ** 2,
  MiB: 1024 ** 2,
  GB: 1024 ** 3,
  GiB: 1024 ** 3,
  TB: 1024 ** 4,
  TiB: 1024 ** 4,
};

/** Parses a size into bytes (`16MB` → 16777216). */
export function parseBytes(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw new Error(`invalid size ${text}: expected a non-negative number of bytes`);
    return text;
  }
  const match = SIZE.exec(text.trim());
  if (!match) throw new Error(`invalid size "${text}": expected a number with a unit, like 512kB, 16MB, 1GB`);
  return Math.round(Number(match[1]) * (SIZE_UNITS[match[2] ?? 'B'] as number));
}

/** 16777216 → `16MB`. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ['TB', 1024 ** 4],
    ['GB', 1024 ** 3],
    ['MB', 1024 ** 2],
    ['kB', 1024],
  ] as const) {
    if (Math.abs(bytes) >= size) return `${Number((bytes / size).toFixed(1))}${unit}`;
  }
  return `${bytes}B`;
}
