import { type AlertEvent, createAlertEvent, type NewAlertEvent } from '../../shared/alerts/index.ts';

/** A firing critical watchdog alert with every optional field set; override what a test is about. */
export function sampleEvent(overrides: Partial<NewAlertEvent> = {}): AlertEvent {
  return createAlertEvent({
    id: '7d1c2f4e-8a3b-4c5d-9e6f-0a1b2c3d4e5f',
    rule: 'connections_total',
    severity: 'critical',
    status: 'firing',
    cluster: 'orders',
    node: 'pg-1',
    database: 'app',
    client: 'watchdog',
    value: 120,
    threshold: 100,
    summary: '120 connections on orders/pg-1 (app), threshold 100',
    observedAt: '2026-03-01T12:00:00.000Z',
    ...overrides,
  });
}
