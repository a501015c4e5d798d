/**
 * Query cancels through the proxy reach the backend that issued the key: a CancelRequest is a new connection,
 * which the proxy used to route like any other (least connections on the read-only port), to a replica that
 * ignored the key. Runs on both data paths (vitest.config.ts).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../shared/log/index.ts';
import { createProxy, type ProxyService } from '../../shared/proxy/index.ts';
import { startTestCluster, type TestCluster } from '../harness/cluster.ts';
import { clientVia, eventually, proxyNodes, testSettings, whereAmI } from './helpers.ts';

const CANCEL_REQUEST = 80877102;
const QUERIES = 10;
/** Long enough that only a cancel ends it inside the test's time. */
const SLEEP = 'select pg_sleep(30)';

let cluster: TestCluster;
/** A direct connection per node port, to watch pg_stat_activity. */
const direct = new Map<number, pg.Client>();
/** A self-signed certificate, so sessions can ask for TLS (the proxy passes it through unread). */
const certDir = mkdtempSync(path.join(tmpdir(), 'pgwarden-cancel-tls-'));

function selfSignedCertificate(): { cert: string; key: string } {
  const cert = path.join(certDir, 'server.crt');
  const key = path.join(certDir, 'server.key');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert],
    {
      stdio: 'ignore',
    },
  );
  // PostgreSQL reads its key only when the server's user owns it with mode 0600 (the harness runs it as postgres under root).
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(key, uid, gid);
    chownSync(cert, uid, gid);
  }
  chmodSync(key, 0o600);
  // mkdtemp makes the folder private to this user; the server must reach into it.
  chmodSync(certDir, 0o755);
  return { cert, key };
}

beforeAll(async () => {
  const tls = selfSignedCertificate();
  cluster = await startTestCluster({ replicas: 2, settings: { ssl: true, ssl_cert_file: `'${tls.cert}'`, ssl_key_file: `'${tls.key}'` } });
  for (const node of cluster.nodes) {
    const client = new pg.Client({ connectionString: cluster.url(node) });
    client.on('error', () => {});
    await client.connect();
    direct.set(node.port, client);
  }
});

afterAll(async () => {
  for (const client of direct.values()) await client.end().catch(() => {});
  await cluster?.close();
  rmSync(certDir, { recursive: true, force: true });
});

function keyOf(client: pg.Client): { pid: number; key: number } {
  const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
  return { pid: processID, key: secretKey };
}

/**
 * Sends a CancelRequest as a driver does (a new connection, the 16-byte packet, nothing else) and waits for the
 * proxy or the server to close it. Resolves to the bytes it was answered (none, from PostgreSQL or the proxy).
 */
function sendCancel(port: number, pid: number, key: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const packet = Buffer.alloc(16);
    packet.writeInt32BE(16, 0);
    packet.writeInt32BE(CANCEL_REQUEST, 4);
    packet.writeInt32BE(pid, 8);
    packet.writeInt32BE(key, 12);
    let answered = 0;
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(packet));
    socket.on('data', (chunk) => {
      answered += chunk.length;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(answered));
  });
}

/** Waits until each client's backend is inside the pg_sleep of `query` on its node (a cancel before that may cancel nothing). */
async function waitRunning(clients: readonly pg.Client[], ports: readonly number[], query = SLEEP): Promise<void> {
  for (const port of new Set(ports)) {
    const admin = direct.get(port) as pg.Client;
    const pids = clients.filter((_, i) => ports[i] === port).map((client) => keyOf(client).pid);
    await eventually(
      async () => {
        const { rows } = await admin.query(
          "select count(*)::int as n from pg_stat_activity where pid = any($1) and query = $2 and wait_event = 'PgSleep'",
          [pids, query],
        );
        return rows[0]?.n === pids.length ? true : undefined;
      },
      20_000,
      `${pids.length} backends on port ${port} running ${query}`,
    );
  }
}

/** The SQLSTATE each query ended with ('ok' when it completed). */
function outcome(query: Promise<unknown>): Promise<string> {
  return query.then(
    () => 'ok',
    (error: { code?: string }) => error.code ?? String(error),
  );
}

/** Opens `QUERIES` clients through `port`, starts a long sleep on each, cancels each through `port`. */
async function cancelAllThrough(proxy: ProxyService, port: number): Promise<{ outcomes: string[]; nodes: Set<number> }> {
  const clients = await Promise.all(Array.from({ length: QUERIES }, () => clientVia(cluster, port)));
  try {
    const placed = await Promise.all(clients.map((client) => whereAmI(client)));
    const queries = clients.map((client) => outcome(client.query(SLEEP)));
    await waitRunning(
      clients,
      placed.map((p) => p.port),
    );
    // One at a time, every session of one node before the next's: the order a new connection's routing cannot
    // follow by chance (least connections alternates over tied replicas, and clients were opened alternating too).
    const byNode = clients.map((client, i) => ({ client, port: (placed[i] as { port: number }).port })).sort((a, b) => a.port - b.port);
    for (const { client } of byNode) await sendCancel(port, keyOf(client).pid, keyOf(client).key);
    expect(proxy.state().status).toBe('running');
    return { outcomes: await Promise.all(queries), nodes: new Set(placed.map((p) => p.port)) };
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => {})));
  }
}

async function withProxy(overrides: Parameters<typeof testSettings>[0], run: (proxy: ProxyService) => Promise<void>): Promise<void> {
  const proxy = createProxy({ nodes: proxyNodes(cluster), settings: testSettings(overrides), logger: createMemoryLogger() });
  await proxy.start();
  try {
    await run(proxy);
  } finally {
    await proxy.stop();
  }
}

const allCancelled = Array(QUERIES).fill('57014');

describe('query cancels through the proxy', () => {
  it('reach their query through the read-only port with two replicas: 10 of 10 end with 57014', async () => {
    await withProxy({}, async (proxy) => {
      const { outcomes, nodes } = await cancelAllThrough(proxy, proxy.ports.ro);
      // Both replicas carried queries, so routing a cancel by least connections would have missed some.
      expect(nodes).toEqual(new Set([cluster.node('pg-1').port, cluster.node('pg-2').port]));
      expect(outcomes).toEqual(allCancelled);
    });
  });

  it('reach their query through the read-write port', async () => {
    await withProxy({}, async (proxy) => {
      const { outcomes } = await cancelAllThrough(proxy, proxy.ports.rw);
      expect(outcomes).toEqual(allCancelled);
    });
  });

  it('reach their query whichever of two data-plane threads accepts the cancel', async () => {
    await withProxy({ workers: 2 }, async (proxy) => {
      const { outcomes } = await cancelAllThrough(proxy, proxy.ports.ro);
      expect(outcomes).toEqual(allCancelled);
      expect(proxy.state().workers).toBe(2);
    });
  });

  it('drop a cancel with a key no node issued: nothing forwarded, nothing cancelled, the connection closed', async () => {
    await withProxy({}, async (proxy) => {
      const client = await clientVia(cluster, proxy.ports.ro);
      try {
        const { port } = await whereAmI(client);
        const text = "select pg_sleep(1.5), 'done' as result";
        const query = outcome(client.query(text));
        await waitRunning([client], [port], text);
        const routedBefore = proxy.state().nodes.map((node) => node.connectionsTotal);
        const { pid, key } = keyOf(client);
        // The right process with the wrong secret, and a process nobody has.
        expect(await sendCancel(proxy.ports.ro, pid, key ^ 1)).toBe(0);
        expect(await sendCancel(proxy.ports.rw, 0x7fff_fff0, 12345)).toBe(0);
        expect(proxy.state().nodes.map((node) => node.connectionsTotal)).toEqual(routedBefore);
        expect(await query).toBe('ok');
      } finally {
        await client.end().catch(() => {});
      }
    });
  });

  it('with a TLS session open (its key unreadable), still reach its query through the read-write port', async () => {
    await withProxy({}, async (proxy) => {
      const client = new pg.Client({
        host: '127.0.0.1',
        port: proxy.ports.rw,
        user: cluster.user,
        password: cluster.password,
        database: 'postgres',
        ssl: { rejectUnauthorized: false },
      });
      client.on('error', () => {});
      await client.connect();
      try {
        const { rows } = await client.query<{ ssl: boolean }>('select ssl from pg_stat_ssl where pid = pg_backend_pid()');
        expect(rows[0]?.ssl).toBe(true);
        const query = outcome(client.query(SLEEP));
        await waitRunning([client], [cluster.node('pg-0').port]);
        // The proxy never saw this key: it routes the cancel as before keys were learned (the primary), not drop it.
        await sendCancel(proxy.ports.rw, keyOf(client).pid, keyOf(client).key);
        expect(await query).toBe('57014');
      } finally {
        await client.end().catch(() => {});
      }
    });
  });

  it('reach a query on a node whose role changed since (a replica promoted): keys outlive routes', async () => {
    await withProxy({}, async (proxy) => {
      const clients = await Promise.all(Array.from({ length: 4 }, () => clientVia(cluster, proxy.ports.ro)));
      try {
        const candidate = cluster.node('pg-1');
        const placed = await Promise.all(clients.map((client) => whereAmI(client)));
        const onCandidate = clients.filter((_, i) => placed[i]?.port === candidate.port);
        expect(onCandidate.length).toBeGreaterThan(0);
        const queries = onCandidate.map((client) => outcome(client.query(SLEEP)));
        await waitRunning(
          onCandidate,
          onCandidate.map(() => candidate.port),
        );

        await cluster.promote(candidate);
        await eventually(
          () => (proxy.state().nodes.find((n) => n.name === 'pg-1')?.role === 'primary' ? true : undefined),
          20_000,
          'pg-1 seen as primary',
        );
        // New read-only clients no longer go to pg-1; its sessions' keys still lead there.
        await Promise.all(onCandidate.map((client) => sendCancel(proxy.ports.ro, keyOf(client).pid, keyOf(client).key)));
        expect(await Promise.all(queries)).toEqual(Array(onCandidate.length).fill('57014'));
      } finally {
        await Promise.all(clients.map((client) => client.end().catch(() => {})));
      }
    });
  });
});
