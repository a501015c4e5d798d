/**
 * The little of the PostgreSQL wire protocol the proxy speaks itself: refusing a client with a readable error.
 * Everything else is spliced byte for byte (https://www.postgresql.org/docs/current/protocol-message-formats.html).
 */
import type { Socket } from 'node:net';
import { CANCEL_REQUEST } from './backend-key.ts';

/** Request codes sent in place of a protocol version in the first packet. */
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/**
 * Why the proxy turned a client away, with the SQLSTATE a client sees.
 * - `too_many_clients` → 53300 (too_many_connections), as Postgres itself answers beyond max_connections.
 * - `no_primary`, `split_brain`, `no_target` → 57P03 (cannot_connect_now): the condition is temporary and
 *   drivers/pools treat it as "retry later", unlike 08xxx which some read as a broken network.
 * - `backend_unreachable` → 08006 (connection_failure): the chosen node did not accept the connection.
 * - `shutting_down` → 57P01 (admin_shutdown), what a server in shutdown answers.
 */
export type RefusalReason = 'too_many_clients' | 'no_primary' | 'split_brain' | 'no_target' | 'backend_unreachable' | 'shutting_down';

const REFUSAL_SQLSTATE: Record<RefusalReason, string> = {
  too_many_clients: '53300',
  no_primary: '57P03',
  split_brain: '57P03',
  no_target: '57P03',
  backend_unreachable: '08006',
  shutting_down: '57P01',
};

/** What a turned-away client reads, whichever data path turned it away. */
const REFUSAL_MESSAGE: Record<RefusalReason, string> = {
  too_many_clients: 'too many clients through pgwarden proxy',
  no_primary: 'no primary available through pgwarden proxy',
  split_brain: 'split brain: several primaries on the same timeline; pgwarden proxy refuses read-write connections',
  no_target: 'no node available for read-only connections through pgwarden proxy',
  backend_unreachable: 'pgwarden proxy could not connect to the database node',
  shutting_down: 'pgwarden proxy is shutting down',
};

/** An ErrorResponse ('E') message with severity FATAL, the given SQLSTATE and message. */
function encodeErrorResponse(code: string, message: string, detail?: string): Buffer {
  const fields: Array<[string, string]> = [
    ['S', 'FATAL'],
    ['V', 'FATAL'],
    ['C', code],
    ['M', message],
  ];
  if (detail) fields.push(['D', detail]);
  const parts = fields.map(([type, value]) => Buffer.concat([Buffer.from(type, 'ascii'), Buffer.from(value, 'utf8'), Buffer.from([0])]));
  const body = Buffer.concat([...parts, Buffer.from([0])]);
  const header = Buffer.alloc(5);
  header.write('E', 0, 'ascii');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

/**
 * Answers a client that will not be proxied: reads its first packet (declining SSL/GSS encryption with 'N' so
 * the client goes on in clear text), then sends the reason's ErrorResponse (its SQLSTATE and message) and closes. psql prints the message, node-pg
 * rejects `connect()` with it. A cancel request gets no answer, as from Postgres. Gives up after `timeoutMs`.
 * `initial`: what the proxy already read of the client (its first packet, read to route it).
 */
export function refuseClient(socket: Socket, reason: RefusalReason, timeoutMs: number, initial?: Buffer): void {
  const code = REFUSAL_SQLSTATE[reason];
  const message = REFUSAL_MESSAGE[reason];
  let buffered: Buffer = Buffer.alloc(0);
  let done = false;
  const finish = (reply?: Buffer) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.removeListener('data', onData);
    if (reply) socket.end(reply);
    else socket.end();
    // end() flushes; a client that never reads must not pin the socket.
    setTimeout(() => socket.destroy(), 1000).unref();
  };
  const onData = (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 8) {
      const length = buffered.readInt32BE(0);
      const request = buffered.readInt32BE(4);
      if (length === 8 && (request === SSL_REQUEST || request === GSSENC_REQUEST)) {
        buffered = buffered.subarray(8);
        socket.write('N');
        continue;
      }
      if (length === 16 && request === CANCEL_REQUEST) return finish();
      return finish(encodeErrorResponse(code, message));
    }
  };
  const timer = setTimeout(() => finish(encodeErrorResponse(code, message)), timeoutMs);
  timer.unref();
  socket.on('error', () => finish());
  socket.on('data', onData);
  if (initial && initial.length > 0) onData(initial);
  if (!done) socket.resume();
}
