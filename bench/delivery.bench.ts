/**
 * issue 4: what the delivery ledger costs and how the sweeper scales.
 *
 * 1. 2,000 events through publish → sender → the real Slack notifier → the loopback Slack fake, with the ledger
 *    (createAlertDelivery + the direct queue: a pending row per delivery, a locked read and an update per send)
 *    vs the same sends without it (the notifier called directly, same concurrency). Arms interleaved ABBA, median
 *    ratio reported. Target ≥ 0.5.
 * 2. A sweep of 1,000 due rows in a 1,000,000-row ledger (generate_series on a harness primary): its time, vs the
 *    same sweep in a ledger holding only the failed rows, and the plan of the claim query, which must be an index
 *    scan on the partial index `deliveries_due_idx` and not a sequential scan.
 */
import { type AlertEvent, createAlertEvent } from '../shared/alerts/index.ts';
import { type Cluster, createCluster, migrate } from '../shared/db/index.ts';
import { type AlertQueue, createAlertDelivery, MIGRATIONS, sweepDeliveries } from '../shared/delivery/index.ts';
import { CLAIM_DUE_SQL, PROMOTE_EXHAUSTED_SQL } from '../shared/delivery/sweeper.ts';
import { createSlackNotifier, type Notifier } from '../shared/notifiers/index.ts';
import { startTestCluster } from '../test/harness/cluster.ts';
import { startSlackFake } from '../test/harness/fakes/slack.ts';
import type { Bench, BenchRow } from './run.ts';

const EVENTS = 2000;
const CONCURRENCY = 10;
const ROUNDS = 4;
const LEDGER_ROWS = 1_000_000;
const DUE = 1000;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

function makeEvents(count: number): AlertEvent[] {
  return Array.from({ length: count }, (_, i) =>
    createAlertEvent({
      rule: 'connections_total',
      severity: 'warning',
      status: 'firing',
      cluster: 'orders',
      node: `pg-${i % 3}`,
      database: 'app',
      client: 'watchdog',
      summary: `${100 + (i % 50)} connections on orders (threshold 100)`,
      value: 100 + (i % 50),
      threshold: 100,
    }),
  );
}

/** The baseline arm: the same notifier, the same concurrency, no ledger. */
async function sendWithoutLedger(notifier: Notifier, events: readonly AlertEvent[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < events.length) {
        const outcome = await notifier.send(events[next++] as AlertEvent);
        if (outcome.kind !== 'sent') throw new Error(`baseline send failed: ${outcome.error}`);
      }
    }),
  );
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

async function throughput(db: Cluster, slackUrl: string): Promise<BenchRow> {
  const slack = createSlackNotifier({ webhookUrl: slackUrl });
  const publisher = createAlertDelivery({ db, queue: 'direct', notifiers: { slack } });
  const withLedger = async () => {
    await db.exec('truncate pgwarden.deliveries cascade');
    const events = makeEvents(EVENTS);
    const ms = await timed(() => publisher.publish(events));
    const { rows } = await db.query<{ sent: string }>("select count(*) as sent from pgwarden.deliveries where status = 'sent'");
    if (Number(rows[0]?.sent) !== EVENTS) throw new Error(`only ${rows[0]?.sent} of ${EVENTS} deliveries were sent`);
    return EVENTS / (ms / 1000);
  };
  const withoutLedger = async () => {
    const events = makeEvents(EVENTS);
    return EVENTS / ((await timed(() => sendWithoutLedger(slack, events))) / 1000);
  };
  // Warm-up: connections, JIT, the fake's sockets.
  await withLedger();
  await withoutLedger();
  const ours: number[] = [];
  const baseline: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const ledgerFirst = round % 2 === 0;
    const a = ledgerFirst ? await withLedger() : 0;
    const b = await withoutLedger();
    const o = ledgerFirst ? a : await withLedger();
    ours.push(o);
    baseline.push(b);
    ratios.push(o / b);
  }
  const ratio = median(ratios);
  return {
    metric: `${EVENTS} events publish → sender → loopback Slack, with the ledger`,
    value: median(ours),
    unit: 'deliveries/s',
    baseline: median(baseline),
    ratio,
    target: '≥ 0.5',
    pass: ratio >= 0.5,
    note: `baseline: same sends without the ledger; ${CONCURRENCY} at a time; median of ${ROUNDS} ABBA rounds; ratios ${ratios.map((r) => r.toFixed(3)).join(' ')}`,
  };
}

/** Fills the ledger: `due` failed rows due now, as many failed rows due in an hour, the rest sent. */
async function fillLedger(db: Cluster, total: number, now: Date): Promise<void> {
  await db.exec('truncate pgwarden.deliveries cascade');
  const event = JSON.stringify(makeEvents(1)[0]);
  await db.exec(
    `insert into pgwarden.deliveries (id, event_id, channel, status, retry_count, next_retry_at, last_error, rule, cluster, event,
                                      created_at, updated_at, sent_at)
     select gen_random_uuid(), gen_random_uuid(), case when g % 2 = 0 then 'slack' else 'loki' end,
            case when g <= $2 * 2 then 'failed' else 'sent' end,
            case when g <= $2 * 2 then 1 else 0 end,
            case when g <= $2 then $1::timestamptz - make_interval(secs => g) when g <= $2 * 2 then $1::timestamptz + interval '1 hour' end,
            case when g <= $2 * 2 then 'slack answered 503: service_unavailable' end,
            'connections_total', 'orders',
            case when g <= $2 * 2 then $4::jsonb else '{}'::jsonb end,
            $1::timestamptz - make_interval(secs => g), $1::timestamptz - make_interval(secs => g),
            case when g > $2 * 2 then $1::timestamptz - make_interval(secs => g) end
       from generate_series(1, $3) as g`,
    [now, DUE, total, event],
  );
  await db.exec('analyze pgwarden.deliveries');
}

async function sweepScaling(db: Cluster): Promise<BenchRow[]> {
  const now = new Date();
  const discard: AlertQueue = { async publish() {} };
  const sweepTimes = async (runs: number) => {
    const times: number[] = [];
    for (let run = 0; run < runs; run++) {
      // Put the rows the last sweep claimed back to due.
      await db.exec(
        `update pgwarden.deliveries set status = 'failed', next_retry_at = $1::timestamptz - interval '1 second' where status = 'pending'`,
        [now],
      );
      let published = 0;
      const ms = await timed(async () => {
        published = (await sweepDeliveries({ db, queue: discard, clock: () => now, batchSize: DUE })).published;
      });
      if (published !== DUE) throw new Error(`the sweep published ${published} rows, expected ${DUE}`);
      times.push(ms);
    }
    return median(times);
  };

  await fillLedger(db, DUE * 2, now);
  const small = await sweepTimes(5);

  const filling = performance.now();
  await fillLedger(db, LEDGER_ROWS, now);
  const fillSeconds = (performance.now() - filling) / 1000;
  const explain = async (sql: string, params: unknown[]) =>
    (await db.query<{ 'QUERY PLAN': string }>(`explain ${sql}`, params)).rows.map((r) => r['QUERY PLAN']).join('\n');
  const claimPlan = await explain(CLAIM_DUE_SQL, [now, DUE]);
  const promotePlan = await explain(PROMOTE_EXHAUSTED_SQL, [now, 5]);
  const large = await sweepTimes(5);

  const usesIndex = (plan: string) => /Index (Only )?Scan using deliveries_due_idx/.test(plan) && !/Seq Scan on deliveries/.test(plan);
  // The exhausted-attempts check reads every failed row: either index whose leading condition is status = 'failed' fits.
  const avoidsSeqScan = (plan: string) => /Index (Only )?Scan using deliveries_/.test(plan) && !/Seq Scan on deliveries/.test(plan);
  const scanLine = (plan: string) =>
    plan
      .split('\n')
      .filter((line) => /Scan/.test(line))
      .map((line) => line.trim().replace(/\s+\(cost=.*$/, ''))
      .join('; ');
  const ratio = large / small;
  return [
    {
      metric: `sweep of ${DUE} due rows in a ${LEDGER_ROWS.toLocaleString('en')}-row ledger`,
      value: large,
      unit: 'ms',
      baseline: small,
      ratio,
      target: 'index scan on deliveries_due_idx',
      pass: usesIndex(claimPlan),
      note: `baseline: the same sweep in a ${DUE * 2}-row ledger; median of 5; ledger filled in ${fillSeconds.toFixed(1)} s; claim plan: ${scanLine(claimPlan)}`,
    },
    {
      metric: 'exhausted-attempts check in the same sweep',
      value: avoidsSeqScan(promotePlan) ? 1 : 0,
      unit: 'index scan (1) or not (0)',
      target: 'an index scan, no sequential scan',
      pass: avoidsSeqScan(promotePlan),
      note: `plan: ${scanLine(promotePlan)}`,
    },
  ];
}

export default {
  name: 'alert delivery: ledger cost and sweep scaling',
  async run() {
    const [cluster, slack] = await Promise.all([startTestCluster({ replicas: 0 }), startSlackFake()]);
    const db = createCluster({ primary: cluster.url(cluster.primary()), healthCheck: { intervalMs: 0 }, pool: { max: CONCURRENCY + 2 } });
    try {
      await migrate(db, MIGRATIONS, 'up');
      const rows = [await throughput(db, slack.url)];
      // The fake keeps every body it receives; the sweep part does not need them.
      slack.received.length = 0;
      slack.requests.length = 0;
      rows.push(...(await sweepScaling(db)));
      return rows;
    } finally {
      await db.close();
      await slack.close();
      await cluster.close();
    }
  },
} satisfies Bench;
