/** Shared pieces of the delivery tests: a migrated control database, an injected clock, scripted notifiers. */
import { type AlertEvent, type Channel, createAlertEvent, type DeliveryMessage, type NewAlertEvent } from '../../shared/alerts/index.ts';
import { type Cluster, createCluster, migrate } from '../../shared/db/index.ts';
import { type AlertQueue, MIGRATIONS } from '../../shared/delivery/index.ts';
import type { Notifier, SendOutcome } from '../../shared/notifiers/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';

export interface Ledger {
  pg: TestCluster;
  db: Cluster;
  url: string;
  /** Empties the ledger between tests. */
  reset(): Promise<void>;
  row(id: string): Promise<LedgerRowView>;
  rows(): Promise<LedgerRowView[]>;
  close(): Promise<void>;
}

export interface LedgerRowView {
  id: string;
  event_id: string;
  channel: string;
  status: string;
  retry_count: number;
  next_retry_at: Date | null;
  last_error: string | null;
  rule: string;
  cluster: string;
  event: AlertEvent;
  sent_at: Date | null;
  updated_at: Date;
}

/** A real primary (no replicas: the control database is one node) with the migrations applied. */
export async function startLedger(): Promise<Ledger> {
  const pg = await startTestCluster({ replicas: 0 });
  const url = pg.url(pg.primary());
  const db = createCluster({ primary: url, healthCheck: { intervalMs: 0 }, pool: { max: 20 } });
  await migrate(db, MIGRATIONS, 'up');
  const rows = async () => (await db.query<LedgerRowView>('select * from pgwarden.deliveries order by created_at, channel')).rows;
  return {
    pg,
    db,
    url,
    reset: async () => {
      await db.exec('truncate pgwarden.deliveries cascade');
    },
    row: async (id) => {
      const found = (await db.query<LedgerRowView>('select * from pgwarden.deliveries where id = $1', [id])).rows[0];
      if (!found) throw new Error(`no delivery ${id}`);
      return found;
    },
    rows,
    close: async () => {
      await db.close();
      await pg.close();
    },
  };
}

/** A clock tests move by hand. */
export function createTestClock(start = '2026-03-01T12:00:00.000Z') {
  let now = new Date(start).getTime();
  return {
    clock: () => new Date(now),
    advance(ms: number) {
      now += ms;
    },
    now: () => new Date(now),
  };
}

export const MINUTE = 60_000;

/**
 * An in-test notifier for tests where the sender's bookkeeping, not the HTTP exchange, is the point: it answers
 * from a script (one outcome per call, the last one repeating) and records every event it was asked to send.
 */
export function scriptedNotifier(
  channel: Channel,
  script: SendOutcome[] | ((event: AlertEvent) => SendOutcome) = [{ kind: 'sent', status: 200 }],
): Notifier & { attempts: AlertEvent[]; delivered: AlertEvent[] } {
  const attempts: AlertEvent[] = [];
  const delivered: AlertEvent[] = [];
  let call = 0;
  return {
    channel,
    attempts,
    delivered,
    async send(event) {
      attempts.push(event);
      const outcome = typeof script === 'function' ? script(event) : (script[Math.min(call, script.length - 1)] as SendOutcome);
      call++;
      if (outcome.kind === 'sent') delivered.push(event);
      return outcome;
    },
  };
}

/** A watchdog-like event. */
export function testEvent(overrides: Partial<NewAlertEvent> = {}, clock?: () => Date): AlertEvent {
  return createAlertEvent(
    {
      rule: 'connections_total',
      severity: 'warning',
      status: 'firing',
      cluster: 'orders',
      node: 'pg-1',
      database: 'app',
      client: 'watchdog',
      summary: '120 connections on orders/pg-1 (threshold 100)',
      value: 120,
      threshold: 100,
      ...overrides,
    },
    clock,
  );
}

/** A queue that only keeps what it is given: the test hands the messages to the sender itself, as SQS would. */
export function holdingQueue(): AlertQueue & { messages: DeliveryMessage[] } {
  const messages: DeliveryMessage[] = [];
  return {
    messages,
    async publish(batch) {
      messages.push(...batch);
    },
  };
}
