import { type EventLineFields, formatEventLine } from '../alerts/index.ts';
import { formatBytes } from '../config/index.ts';
import { redact } from '../redact/index.ts';
import type { TopologyResult } from '../topology/index.ts';

/** What the local runtime shows a person: one line per thing that happened, with a time and a tag. */
export interface DevView {
  info(message: string): void;
  warn(message: string): void;
  /** A node's connection stats from a watchdog round. */
  connections(line: string): void;
  topology(summary: TopologySummary): void;
  /** An alert event a handler reported, in the one event-line wording. */
  alert(event: EventLineFields): void;
  deliveries(counts: Record<string, number>): void;
  sink(text: string): void;
  scenario(message: string): void;
}

/** The part of a topology result the view shows. */
export type TopologySummary = Pick<TopologyResult, 'cluster' | 'verdict' | 'primary' | 'replicas' | 'down' | 'changed'>;

const COLORS = {
  dim: '\x1b[2m',
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  blue: '\x1b[34m',
  cyan: '\x1b[36m',
  reset: '\x1b[0m',
};

/**
 * Lines on `write` (stdout by default). On a TTY the tags are coloured; otherwise plain, one line per event,
 * so the output can be piped, grepped and read by tests.
 */
export function createDevView(options: { write?: (line: string) => void; color?: boolean; clock?: () => Date } = {}): DevView {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const color = options.color ?? false;
  const clock = options.clock ?? (() => new Date());
  let lastCounts = '';
  const paint = (code: keyof typeof COLORS, text: string) => (color ? `${COLORS[code]}${text}${COLORS.reset}` : text);
  const line = (tag: string, code: keyof typeof COLORS, message: string) =>
    write(redact(`${paint('dim', clock().toISOString().slice(11, 19))} ${paint(code, tag.padEnd(10))} ${message}`));
  return {
    info: (message) => line('pgwarden', 'cyan', message),
    warn: (message) => line('warning', 'yellow', message),
    connections: (message) => line('watchdog', 'blue', message),
    topology(summary) {
      const replicas =
        summary.replicas.map((r) => `${r.node}${r.lagBytes === null ? '' : ` lag=${formatBytes(r.lagBytes)}`}`).join(', ') || 'none';
      const down = summary.down.length > 0 ? ` down=[${summary.down.map((d) => d.node).join(', ')}]` : '';
      line(
        'topology',
        summary.verdict === 'ok' ? 'blue' : 'red',
        `cluster=${summary.cluster} verdict=${summary.verdict} primary=${summary.primary?.node ?? 'none'} replicas=[${replicas}]${down}${summary.changed ? ' (changed)' : ''}`,
      );
    },
    alert(event) {
      const code =
        event.status === 'resolved' ? 'green' : event.severity === 'critical' ? 'red' : event.severity === 'warning' ? 'yellow' : 'cyan';
      line('alert', code, formatEventLine(event));
    },
    deliveries(counts) {
      const text = ['pending', 'sent', 'failed', 'dead'].map((status) => `${status}=${counts[status] ?? 0}`).join(' ');
      if (text === lastCounts) return;
      lastCounts = text;
      line('delivery', 'dim', text);
    },
    sink: (text) => line('slack', 'green', text.replace(/\s+/g, ' ').slice(0, 300)),
    scenario: (message) => line('scenario', 'yellow', message),
  };
}
