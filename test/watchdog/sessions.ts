/**
 * Real client sessions in known states (idle, active, idle in transaction, aborted), so the watchdog's counts can
 * be asserted exactly. Each session is a plain pg.Client on its own backend.
 */
import pg from 'pg';

export interface Sessions {
  idle(url: string, count: number, applicationName?: string): Promise<void>;
  /** `select pg_sleep(600)` in flight; resolves once the server reports every one of them active. */
  active(url: string, count: number, applicationName?: string): Promise<void>;
  idleInTransaction(url: string, count: number, applicationName?: string): Promise<void>;
  /** A transaction whose statement failed and was not rolled back. */
  idleInTransactionAborted(url: string, count: number, applicationName?: string): Promise<void>;
  /** Ends every session opened so far (terminating the busy ones). */
  closeAll(): Promise<void>;
}

export function openSessions(): Sessions {
  const clients: Array<{ client: pg.Client; pid: number; url: string }> = [];
  const open = async (url: string, applicationName: string) => {
    const client = new pg.Client({ connectionString: url, application_name: applicationName });
    client.on('error', () => {});
    await client.connect();
    const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
    clients.push({ client, pid: rows[0]!.pid, url });
    return client;
  };
  const times = async (count: number, fn: () => Promise<void>) => {
    for (let i = 0; i < count; i++) await fn();
  };
  return {
    async idle(url, count, applicationName = 'test-idle') {
      await times(count, async () => {
        await open(url, applicationName);
      });
    },
    async active(url, count, applicationName = 'test-active') {
      const pids: number[] = [];
      await times(count, async () => {
        const client = await open(url, applicationName);
        pids.push(clients.at(-1)!.pid);
        client.query('select pg_sleep(600)').catch(() => {});
      });
      const probe = new pg.Client({ connectionString: url });
      await probe.connect();
      try {
        for (;;) {
          const { rows } = await probe.query<{ n: number }>(
            "select count(*)::int as n from pg_stat_activity where pid = any($1) and state = 'active'",
            [pids],
          );
          if (rows[0]!.n === pids.length) return;
          await new Promise((resolve) => setImmediate(resolve));
        }
      } finally {
        await probe.end();
      }
    },
    async idleInTransaction(url, count, applicationName = 'test-idle-in-tx') {
      await times(count, async () => {
        const client = await open(url, applicationName);
        await client.query('begin');
        await client.query('select 1');
      });
    },
    async idleInTransactionAborted(url, count, applicationName = 'test-aborted') {
      await times(count, async () => {
        const client = await open(url, applicationName);
        await client.query('begin');
        await client.query('select 1/0').catch(() => {});
      });
    },
    async closeAll() {
      const byUrl = new Map<string, number[]>();
      for (const { url, pid } of clients) byUrl.set(url, [...(byUrl.get(url) ?? []), pid]);
      for (const [url, pids] of byUrl) {
        const admin = new pg.Client({ connectionString: url });
        admin.on('error', () => {});
        try {
          await admin.connect();
          await admin.query('select pg_terminate_backend(pid) from unnest($1::int[]) pid', [pids]);
          // Terminated backends leave pg_stat_activity asynchronously; wait so the next test counts from zero.
          for (;;) {
            const { rows } = await admin.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where pid = any($1)', [
              pids,
            ]);
            if (rows[0]!.n === 0) break;
            await new Promise((resolve) => setImmediate(resolve));
          }
        } catch {
          // The node may be down by now; its sessions are gone with it.
        } finally {
          await admin.end().catch(() => {});
        }
      }
      await Promise.all(clients.map(({ client }) => client.end().catch(() => {})));
      clients.length = 0;
    },
  };
}
