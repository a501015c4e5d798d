/**
 * Alert lifecycle: alerts are edges, not spam (ARCHITECTURE.md, "Alert state"). A breach fires once it has held
 * for `for`, repeats at most every `repeatInterval` while it keeps firing (at once when its severity rises above
 * what was last sent), and sends `resolved` once when it clears. A breach that clears before `for` sends nothing.
 *
 * The decision is a pure function (`decideAlert`); `createAlertStateStore` runs it against
 * `pgwarden.alert_state` in one transaction per scope, under a lock, so two checks running at once never send
 * the same notification twice.
 */
import type { Cluster, TxClient } from '../db/index.ts';
import type { AlertEvent, AlertRule, Severity } from './event.ts';
import { dedupKey } from './event.ts';

export type AlertStateStatus = 'pending' | 'firing' | 'resolved';

/** One row of `pgwarden.alert_state`. */
export interface AlertState {
  key: string;
  rule: AlertRule;
  cluster: string;
  node: string | null;
  status: AlertStateStatus;
  /** While firing: the severity of the last notification sent. */
  severity: Severity;
  /** When the current breach was first seen. */
  pendingSince: Date;
  firingSince: Date | null;
  lastSentAt: Date | null;
  resolvedAt: Date | null;
  lastValue: number | null;
  threshold: number | null;
  summary: string;
  updatedAt: Date;
}

export interface LifecycleTiming {
  /** How long a breach must hold before it fires. 0: on the first breach. */
  forMs: number;
  /** While firing, send again at most this often. */
  repeatIntervalMs: number;
}

/**
 * What happened to one key in one check:
 * `fire` (first notification), `escalate` (severity rose above the last one sent), `repeat` (repeat interval
 * passed), `resolve` (cleared after firing) send; `pending` (breached, `for` not yet over), `hold` (still
 * firing, nothing new), `clear` (cleared before it ever fired) and `none` (fine, and was fine) send nothing.
 */
export type AlertAction = 'fire' | 'escalate' | 'repeat' | 'resolve' | 'pending' | 'hold' | 'clear' | 'none';

const SENDING: ReadonlySet<AlertAction> = new Set(['fire', 'escalate', 'repeat', 'resolve']);

export interface AlertDecision {
  key: string;
  action: AlertAction;
  /** The notification to send (only for sending actions). */
  event: AlertEvent | null;
  previous: AlertState | null;
  /** The row after this check; `null` when it is deleted (or there never was one). */
  next: AlertState | null;
}

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

/** True for the actions that send a notification. */
export function isSendingAction(action: AlertAction): boolean {
  return SENDING.has(action);
}

function stateFrom(event: AlertEvent, key: string, now: Date, base: Partial<AlertState>): AlertState {
  return {
    key,
    rule: event.rule,
    cluster: event.cluster,
    node: event.node ?? null,
    status: 'pending',
    severity: event.severity,
    pendingSince: now,
    firingSince: null,
    lastSentAt: null,
    resolvedAt: null,
    lastValue: event.value ?? null,
    threshold: event.threshold ?? null,
    summary: event.summary,
    updatedAt: now,
    ...base,
  };
}

/**
 * Decides one key of one check. `observation` is the rule's outcome now: `status: 'firing'` when breached,
 * `status: 'resolved'` when it holds fine (then it is what a resolution would say: the current value).
 *
 * @example decideAlert(null, breach, now, { forMs: 0, repeatIntervalMs: 4 * 3_600_000 }).action // 'fire'
 */
export function decideAlert(previous: AlertState | null, observation: AlertEvent, now: Date, timing: LifecycleTiming): AlertDecision {
  const key = dedupKey(observation);
  const at = now.getTime();
  const decision = (action: AlertAction, next: AlertState | null, event: AlertEvent | null = null): AlertDecision => ({
    key,
    action,
    event,
    previous,
    next,
  });

  if (observation.status === 'resolved') {
    if (previous?.status === 'pending') return decision('clear', null);
    if (previous?.status === 'firing') {
      // The resolution is told at the severity it fired with: that is the alert the reader is waiting to see close.
      const event = { ...observation, severity: previous.severity };
      return decision(
        'resolve',
        { ...previous, status: 'resolved', resolvedAt: now, lastSentAt: now, lastValue: observation.value ?? null, updatedAt: now },
        event,
      );
    }
    return decision('none', previous);
  }

  if (!previous || previous.status === 'resolved') {
    if (timing.forMs <= 0) {
      return decision('fire', stateFrom(observation, key, now, { status: 'firing', firingSince: now, lastSentAt: now }), observation);
    }
    return decision('pending', stateFrom(observation, key, now, {}));
  }

  if (previous.status === 'pending') {
    if (at - previous.pendingSince.getTime() >= timing.forMs) {
      return decision(
        'fire',
        stateFrom(observation, key, now, { status: 'firing', pendingSince: previous.pendingSince, firingSince: now, lastSentAt: now }),
        observation,
      );
    }
    return decision('pending', stateFrom(observation, key, now, { pendingSince: previous.pendingSince }));
  }

  const firing = { status: 'firing' as const, pendingSince: previous.pendingSince, firingSince: previous.firingSince };
  if (RANK[observation.severity] > RANK[previous.severity]) {
    return decision('escalate', stateFrom(observation, key, now, { ...firing, lastSentAt: now }), observation);
  }
  const lastSent = previous.lastSentAt?.getTime() ?? Number.NEGATIVE_INFINITY;
  if (at - lastSent >= timing.repeatIntervalMs) {
    return decision('repeat', stateFrom(observation, key, now, { ...firing, lastSentAt: now }), observation);
  }
  // Still firing, nothing new to say. The stored severity stays the one last sent, so dropping a level and
  // climbing back is not news, while climbing above what the reader last saw is.
  return decision(
    'hold',
    stateFrom(observation, key, now, {
      ...firing,
      lastSentAt: previous.lastSentAt,
      severity: previous.severity,
      summary: previous.summary,
    }),
  );
}

/** Decides every observed key of one check against the stored states (keys without a state start fresh). */
export function decideAlerts(
  observations: readonly AlertEvent[],
  states: ReadonlyMap<string, AlertState>,
  now: Date,
  timing: LifecycleTiming,
): AlertDecision[] {
  return observations.map((observation) => decideAlert(states.get(dedupKey(observation)) ?? null, observation, now, timing));
}

/** The notifications a check's decisions send, in decision order. */
export function eventsToSend(decisions: readonly AlertDecision[]): AlertEvent[] {
  return decisions.filter((d) => isSendingAction(d.action) && d.event).map((d) => d.event as AlertEvent);
}

/**
 * One `apply` of either store: decide against `states`, hand the notifications to `deliver`, then `save` every
 * changed key (`next` null: forget it). A throwing `deliver` leaves everything unsaved.
 */
async function decideDeliverSave(
  input: ApplyLifecycleInput,
  states: ReadonlyMap<string, AlertState>,
  now: Date,
  deliver: (events: AlertEvent[]) => Promise<void>,
  save: (key: string, next: AlertState | null) => Promise<void> | void,
): Promise<AlertDecision[]> {
  const decisions = decideAlerts(input.observations, states, now, input.timing);
  const events = eventsToSend(decisions);
  if (events.length > 0) await deliver(events);
  for (const decision of decisions) {
    if (decision.action !== 'none') await save(decision.key, decision.next);
  }
  return decisions;
}

export interface ApplyLifecycleInput {
  /**
   * What this check serializes on (a cluster name): checks with the same lock key run one after the other.
   * Every observation should belong to it.
   */
  lockKey: string;
  /**
   * Every rule evaluated in this check, one event per dedup key: `firing` when breached, `resolved` when fine.
   * Keys not observed (a node that was not checked) are left as they are.
   */
  observations: readonly AlertEvent[];
  timing: LifecycleTiming;
}

export interface AlertStateStore {
  /**
   * Reads the states of the observed keys (locked), decides, hands the notifications to `deliver`, then writes
   * the new states and commits. If `deliver` throws, nothing is written, so the next check tries again.
   * The database store passes `deliver` its transaction (`tx`), so what it records commits with the state.
   */
  apply(input: ApplyLifecycleInput, deliver: (events: AlertEvent[], tx?: TxClient) => Promise<void>): Promise<AlertDecision[]>;
  /** Every stored state, optionally of one cluster, ordered by key. */
  list(filter?: { cluster?: string }): Promise<AlertState[]>;
}

interface AlertStateRow {
  dedup_key: string;
  rule: AlertRule;
  cluster: string;
  node: string | null;
  status: AlertStateStatus;
  severity: Severity;
  pending_since: Date;
  firing_since: Date | null;
  last_sent_at: Date | null;
  resolved_at: Date | null;
  last_value: number | null;
  threshold: number | null;
  summary: string;
  updated_at: Date;
}

function fromRow(row: AlertStateRow): AlertState {
  return {
    key: row.dedup_key,
    rule: row.rule,
    cluster: row.cluster,
    node: row.node,
    status: row.status,
    severity: row.severity,
    pendingSince: row.pending_since,
    firingSince: row.firing_since,
    lastSentAt: row.last_sent_at,
    resolvedAt: row.resolved_at,
    lastValue: row.last_value,
    threshold: row.threshold,
    summary: row.summary,
    updatedAt: row.updated_at,
  };
}

const COLUMNS =
  'dedup_key, rule, cluster, node, status, severity, pending_since, firing_since, last_sent_at, resolved_at, last_value, threshold, summary, updated_at';

async function writeState(tx: TxClient, state: AlertState): Promise<void> {
  await tx.query(
    `insert into pgwarden.alert_state (${COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     on conflict (dedup_key) do update set rule = excluded.rule, cluster = excluded.cluster, node = excluded.node,
       status = excluded.status, severity = excluded.severity, pending_since = excluded.pending_since,
       firing_since = excluded.firing_since, last_sent_at = excluded.last_sent_at, resolved_at = excluded.resolved_at,
       last_value = excluded.last_value, threshold = excluded.threshold, summary = excluded.summary,
       updated_at = excluded.updated_at`,
    [
      state.key,
      state.rule,
      state.cluster,
      state.node,
      state.status,
      state.severity,
      state.pendingSince,
      state.firingSince,
      state.lastSentAt,
      state.resolvedAt,
      state.lastValue,
      state.threshold,
      state.summary,
      state.updatedAt,
    ],
  );
}

export interface AlertStateStoreOptions {
  /** Where "now" comes from (tests inject one). Default: the system clock. */
  clock?: () => Date;
}

/** For dry runs: what `store` would send for these observations of `cluster`, without changing it. */
export async function previewAlerts(
  store: AlertStateStore,
  cluster: string,
  observations: readonly AlertEvent[],
  now: Date,
  timing: LifecycleTiming,
): Promise<AlertEvent[]> {
  const states = new Map((await store.list({ cluster })).map((state) => [state.key, state]));
  return eventsToSend(decideAlerts(observations, states, now, timing));
}

/**
 * The lifecycle on `pgwarden.alert_state` (apply `alertStateMigration` first).
 *
 * @example
 * const store = createAlertStateStore(stateDb, { clock });
 * await store.apply({ lockKey: 'orders', observations, timing }, async (events) => { await publisher.publish(events); });
 */
export function createAlertStateStore(db: Cluster, options: AlertStateStoreOptions = {}): AlertStateStore {
  const clock = options.clock ?? (() => new Date());
  return {
    async apply(input, deliver) {
      const keys = [...new Set(input.observations.map((o) => dedupKey(o)))].sort();
      if (keys.length === 0) return [];
      // Never retried as a whole: `deliver` may already have published when a later statement fails.
      return db.runTx(
        async (tx) => {
          // The advisory lock covers keys that have no row yet (nothing for FOR UPDATE to lock); one lock per
          // transaction, taken first, so two checks cannot deadlock on it.
          await tx.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [`pgwarden.alert_state/${input.lockKey}`]);
          const { rows } = await tx.query<AlertStateRow>(
            `select ${COLUMNS} from pgwarden.alert_state where dedup_key = any($1::text[]) order by dedup_key for update`,
            [keys],
          );
          const states = new Map(rows.map((row) => [row.dedup_key, fromRow(row)]));
          const deliverHere = (events: AlertEvent[]) => deliver(events, tx);
          return decideDeliverSave(input, states, clock(), deliverHere, async (key, next) => {
            if (next) await writeState(tx, next);
            else await tx.query('delete from pgwarden.alert_state where dedup_key = $1', [key]);
          });
        },
        { retry: false },
      );
    },

    async list(filter = {}) {
      const { rows } = filter.cluster
        ? await db.query<AlertStateRow>(`select ${COLUMNS} from pgwarden.alert_state where cluster = $1 order by dedup_key`, [
            filter.cluster,
          ])
        : await db.query<AlertStateRow>(`select ${COLUMNS} from pgwarden.alert_state order by dedup_key`);
      return rows.map(fromRow);
    },
  };
}

/**
 * The same lifecycle kept in process memory, for a long-running process without a control database
 * (`pgwarden topology --interval`): a node that stays down is reported once (and again every repeat interval),
 * not every check. Checks run one after the other, as the database store's lock makes them; lost on exit.
 *
 * @example const store = createMemoryAlertStateStore({ clock });
 */
export function createMemoryAlertStateStore(options: AlertStateStoreOptions = {}): AlertStateStore {
  const clock = options.clock ?? (() => new Date());
  const states = new Map<string, AlertState>();
  let queue: Promise<unknown> = Promise.resolve();
  return {
    apply(input, deliver) {
      const run = queue.then(() =>
        decideDeliverSave(input, states, clock(), deliver, (key, next) => {
          if (next) states.set(key, next);
          else states.delete(key);
        }),
      );
      queue = run.catch(() => {});
      return run;
    },
    async list(filter = {}) {
      return [...states.values()]
        .filter((state) => filter.cluster === undefined || state.cluster === filter.cluster)
        .sort((a, b) => a.key.localeCompare(b.key));
    },
  };
}
