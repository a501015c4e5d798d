import pg from 'pg';
import type { EmbeddedCluster } from '../embedded/index.ts';
import { describeError } from '../redact/index.ts';
import type { ConsoleSink } from './console-sink.ts';
import type { DevRuntime } from './dev.ts';
import type { DevView } from './view.ts';

export const SCENARIOS = ['failover', 'saturation', 'slack-outage'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface ScenarioContext {
  cluster: EmbeddedCluster;
  runtime: DevRuntime;
  view: DevView;
  /** The local Slack stand-in, when no real Slack is configured. */
  sink?: ConsoleSink;
  /** Resolves when the runtime is stopping: long scenarios end early then. */
  stopping: Promise<void>;
  /** How long saturation holds its connections and the outage lasts. */
  holdMs?: number;
}

const sleep = (ms: number, stopping: Promise<void>) =>
  Promise.race([new Promise<void>((resolve) => setTimeout(resolve, ms).unref()), stopping]);

/**
 * Stops the primary cleanly, promotes the first replica, points the other replica at it, and brings the old
 * primary back as a standby of the new one — with a topology probe after each step, as an operator would run
 * `pgwarden invoke topology`. The proxy follows on its own within about a second.
 */
async function failover(context: ScenarioContext): Promise<void> {
  const { cluster, runtime, view } = context;
  const old = cluster.primary();
  const [next, ...others] = cluster.replicas().filter((n) => cluster.isRunning(n));
  if (!next) throw new Error('failover needs a running replica');
  view.scenario(`failover: stopping the primary ${old.name}`);
  await cluster.stop(old);
  await runtime.invoke('topology').catch(() => {});
  view.scenario(`failover: promoting ${next.name}`);
  await cluster.promote(next);
  for (const replica of others) await cluster.follow(replica, next);
  await runtime.invoke('topology').catch(() => {});
  await runtime.invoke('watchdog').catch(() => {});
  view.scenario(`failover: ${old.name} rejoins as a standby of ${next.name}`);
  await cluster.rejoin(old, next);
  await runtime.invoke('topology').catch(() => {});
  await runtime.invoke('watchdog').catch(() => {});
  view.scenario('failover: done — the read-write endpoint and the proxy now lead to the new primary');
}

/** Opens idle connections to the primary until it is past the highest saturation level, holds them, lets go. */
async function saturation(context: ScenarioContext): Promise<void> {
  const { cluster, runtime, view } = context;
  const url = cluster.url(cluster.primary());
  const probe = new pg.Client(url);
  await probe.connect();
  const { rows } = await probe.query<{ max: number; reserved: number; used: number }>(
    `select current_setting('max_connections')::int as max,
            current_setting('superuser_reserved_connections')::int + coalesce(current_setting('reserved_connections', true)::int, 0) as reserved,
            (select count(*)::int from pg_stat_activity where backend_type = 'client backend') as used`,
  );
  await probe.end();
  const { max, reserved, used } = rows[0] ?? { max: 0, reserved: 0, used: 0 };
  const usable = max - reserved;
  const target = Math.floor(usable * 0.96) - used;
  view.scenario(`saturation: opening ${target} idle connections (${used} in use of ${usable} usable)`);
  const held: pg.Client[] = [];
  try {
    for (let i = 0; i < target; i++) {
      const client = new pg.Client({ connectionString: url, application_name: 'pgwarden-scenario-saturation' });
      client.on('error', () => {});
      await client.connect();
      held.push(client);
    }
  } catch (error) {
    view.scenario(`saturation: stopped opening at ${held.length}: ${describeError(error)}`);
  }
  await runtime.invoke('watchdog').catch(() => {});
  view.scenario(`saturation: holding ${held.length} connections for ${Math.round((context.holdMs ?? 60_000) / 1000)} s`);
  await sleep(context.holdMs ?? 60_000, context.stopping);
  await Promise.all(held.map((client) => client.end().catch(() => {})));
  view.scenario('saturation: connections closed');
  await runtime.invoke('watchdog').catch(() => {});
}

/**
 * Makes the local Slack stand-in answer 503 for a while and raises a test alert: the delivery is recorded as
 * failed, the sweeper publishes it again when its retry is due (1 minute), and it is sent once Slack is back.
 */
async function slackOutage(context: ScenarioContext): Promise<void> {
  const { runtime, view, sink } = context;
  if (!sink) {
    view.scenario('slack-outage: a real Slack webhook is configured; the scenario only fails the local stand-in, so it does nothing here');
    return;
  }
  const outageMs = context.holdMs ?? 45_000;
  sink.failUntil(new Date(Date.now() + outageMs));
  view.scenario(`slack-outage: Slack answers 503 for ${Math.round(outageMs / 1000)} s; sending a test alert`);
  await runtime.invoke('watchdog', { forceNotification: true }).catch(() => {});
  await sleep(outageMs, context.stopping);
  view.scenario('slack-outage: Slack is back; the sweeper delivers the failed alert when its retry is due');
}

/** Runs a named scenario against the demo cluster. */
export async function runScenario(name: ScenarioName, context: ScenarioContext): Promise<void> {
  switch (name) {
    case 'failover':
      return failover(context);
    case 'saturation':
      return saturation(context);
    case 'slack-outage':
      return slackOutage(context);
  }
}
