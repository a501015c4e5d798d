import { type Channel, formatEventLine } from '../alerts/index.ts';
import { redact } from '../redact/index.ts';
import { describeValue } from './format.ts';
import type { Notifier } from './outcome.ts';

export interface ConsoleNotifierOptions {
  /** The channel this sink stands in for (its outcomes are recorded under it). Default `slack`. */
  channel?: Channel;
}

/**
 * A local sink for when no Slack or Loki is configured: one readable line per event, like
 * `2026-03-01T12:00:00.000Z critical connections_total firing: 120 connections … · value 120 (threshold 100) · database app`,
 * the event line every other place shows (`formatEventLine`) with the time and the details a notifier carries.
 * It always answers `sent` with status 0 (no HTTP exchange took place).
 */
export function createConsoleNotifier(
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  options: ConsoleNotifierOptions = {},
): Notifier {
  return {
    channel: options.channel ?? 'slack',
    async send(event) {
      const parts = [`${event.observedAt} ${formatEventLine(event)}`];
      const value = describeValue(event);
      if (value !== undefined) parts.push(`value ${value}`);
      if (event.database !== undefined) parts.push(`database ${event.database}`);
      if (event.namespace !== undefined) parts.push(`namespace ${event.namespace}`);
      parts.push(`rule ${event.rule}`, `event ${event.id}`);
      write(redact(parts.join(' · ')));
      return { kind: 'sent', status: 0 };
    },
  };
}
