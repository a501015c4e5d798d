/**
 * The node monitor against a hung host: a TCP listener that accepts and never answers (no cluster needed). The
 * check reports the timeout instead of hanging, and the monitor cuts its half-open connection rather than waiting
 * for a server that will never answer pg's Terminate.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../shared/log/index.ts';
import { createNodeMonitor } from '../../shared/proxy/index.ts';
import { eventually } from './helpers.ts';

let hung: Server;
let port: number;
const open = new Set<Socket>();

/**
 * Accepts, and with `answerStartup` completes the session start (AuthenticationOk + ReadyForQuery, no password
 * asked), then never answers again: neither queries nor pg's Terminate. Covers no other protocol message.
 */
let answerStartup = false;

beforeAll(async () => {
  hung = createServer((socket) => {
    open.add(socket);
    socket.on('error', () => {});
    let started = false;
    // Read (and drop) what arrives, or the peer's FIN would never be seen.
    socket.on('data', () => {
      if (!answerStartup || started) return;
      started = true;
      const ok = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]);
      const ready = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);
      socket.write(Buffer.concat([ok, ready]));
    });
    socket.on('close', () => open.delete(socket));
  });
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
  const address = hung.address();
  port = typeof address === 'object' && address ? address.port : 0;
});

afterAll(async () => {
  for (const socket of open) socket.destroy();
  await new Promise<void>((resolve) => hung.close(() => resolve()));
});

describe('node monitor', () => {
  for (const stage of ['startup', 'query'] as const) {
    it(`reports a node hung at ${stage} as down with the timeout, closes its connection, and hides the password`, async () => {
      answerStartup = stage === 'query';
      const monitor = createNodeMonitor({
        name: 'pg-hung',
        url: `postgres://monitor:monitor-secret-pw@127.0.0.1:${port}/postgres`,
        timeoutMs: 200,
        logger: createMemoryLogger(),
      });
      try {
        const health = await monitor.check();
        expect(health).toMatchObject({ ok: false, recovery: null, timeline: null, lsn: null });
        expect(health.error).toMatch(/timed out|timeout/i);
        expect(health.error).not.toContain('monitor-secret-pw');
        await eventually(() => (open.size === 0 ? true : undefined), 5000, 'the hung connection closed by the proxy');
        // The next check starts over on a new connection and reports the same.
        expect((await monitor.check()).ok).toBe(false);
        // The fast promotion check is held to the same budget: no answer is null (never "not in recovery").
        expect(await monitor.checkRecovery()).toBeNull();
        await eventually(() => (open.size === 0 ? true : undefined), 5000, 'the fast check’s hung connection closed');
      } finally {
        await monitor.close();
      }
    });
  }
});
