import type { AlertEvent } from './event.ts';

/** The part of an event its line shows: a full event, or one of the watchdog's `--json` events, alike. */
export type EventLineFields = Pick<AlertEvent, 'severity' | 'rule' | 'status' | 'summary'>;

/**
 * The one line an alert event reads as, wherever a person sees it (the CLI, the dev console, the console notifier,
 * the log publisher): `critical connections_saturation firing: orders/orders-0: 96% of usable connections in use`.
 * Callers add their own frame around it (a time, a tag, details), never another wording of the event.
 */
export function formatEventLine(event: EventLineFields): string {
  return `${event.severity} ${event.rule} ${event.status}: ${event.summary}`;
}

/**
 * The one wording of a dry run's alert, for every command, function and use case that runs without sending:
 * `[dry-run] would send: warning connections_total firing: orders/orders-0: 7 connections (threshold 7)`.
 */
export function describeWouldSend(event: EventLineFields): string {
  return `[dry-run] would send: ${formatEventLine(event)}`;
}
