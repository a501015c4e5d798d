import { redact } from '../redact/index.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

/**
 * The one logging port shared/ code writes to. The CLI gives a line logger on stderr; Lambda handlers
 * adapt Powertools' Logger to it (functions/lib). Fields and messages are redacted by the implementations.
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LineLoggerOptions {
  level?: LogLevel;
  /** `logfmt` (human, default) or `json` (one object per line). */
  format?: 'logfmt' | 'json';
  /** Where lines go. Default stderr, so `--json` output on stdout stays clean. */
  write?: (line: string) => void;
  fields?: LogFields;
  clock?: () => Date;
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text === undefined) return 'undefined';
  return /[\s="]/.test(text) || text === '' ? JSON.stringify(text) : text;
}

function serializable(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? { name: value.name, message: value.message, code: (value as { code?: unknown }).code } : value;
  }
  return out;
}

/** A logger that writes one redacted line per record (logfmt or JSON). */
export function createLineLogger(options: LineLoggerOptions = {}): Logger {
  const threshold = LEVELS[options.level ?? 'info'];
  const format = options.format ?? 'logfmt';
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const clock = options.clock ?? (() => new Date());
  const base = options.fields ?? {};

  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (LEVELS[level] < threshold) return;
    const all = { ...base, ...fields };
    if (format === 'json') {
      write(redact(JSON.stringify({ time: clock().toISOString(), level, message, ...serializable(all) })));
      return;
    }
    const parts = [`time=${clock().toISOString()}`, `level=${level}`, `msg=${formatValue(message)}`];
    for (const [key, value] of Object.entries(all)) {
      if (value !== undefined) parts.push(`${key}=${formatValue(value)}`);
    }
    write(redact(parts.join(' ')));
  };

  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLineLogger({ ...options, fields: { ...base, ...fields } }),
  };
}

/** A logger that drops everything (library default, so shared/ stays quiet unless given one). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

/** A logger that keeps records in memory: for tests asserting on what was (or was not) logged. */
export function createMemoryLogger(): Logger & { records: Array<{ level: LogLevel; message: string; fields: LogFields; line: string }> } {
  const records: Array<{ level: LogLevel; message: string; fields: LogFields; line: string }> = [];
  const make = (base: LogFields): Logger => {
    const emit = (level: LogLevel, message: string, fields?: LogFields) => {
      const all = { ...base, ...fields };
      records.push({ level, message, fields: all, line: redact(`${level} ${message} ${JSON.stringify(serializable(all))}`) });
    };
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return Object.assign(make({}), { records });
}
