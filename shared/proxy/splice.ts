/**
 * The data path: bytes from a client socket to a backend socket and back, untouched.
 *
 * Kept lean on purpose (every microsecond here is taken from Postgres and the clients on a small machine): two
 * 'data' listeners that write straight through, pause on backpressure, and add the chunk length to two plain
 * number fields. No per-chunk allocation, closure creation or metric label lookup. Half-close is propagated
 * (an 'end' from one side ends the other once its writes flush), and any error or close tears down both.
 */
import type { Socket } from 'node:net';

/** Plain counters the splice adds to; summed into metrics at scrape time. */
export interface ByteCounter {
  /** Client → node. */
  bytesIn: number;
  /** Node → client. */
  bytesOut: number;
}

/** Splices `client` and `server` both ways; `onClose` runs once when both are gone. */
export function spliceSockets(client: Socket, server: Socket, counter: ByteCounter, onClose: () => void): void {
  let open = 2;
  const closedOne = () => {
    open--;
    if (open === 0) onClose();
  };
  const resumeClient = () => client.resume();
  const resumeServer = () => server.resume();
  client.on('data', (chunk: Buffer) => {
    counter.bytesIn += chunk.length;
    if (!server.write(chunk)) {
      client.pause();
      server.once('drain', resumeClient);
    }
  });
  server.on('data', (chunk: Buffer) => {
    counter.bytesOut += chunk.length;
    if (!client.write(chunk)) {
      server.pause();
      client.once('drain', resumeServer);
    }
  });
  // A clean FIN travels on after the queued bytes; an error (reset, timeout) tears the other side down at once.
  client.on('end', () => server.end());
  server.on('end', () => client.end());
  client.on('error', () => server.destroy());
  server.on('error', () => client.destroy());
  client.on('close', (hadError) => {
    if (hadError) server.destroy();
    else server.end();
    closedOne();
  });
  server.on('close', (hadError) => {
    if (hadError) client.destroy();
    else client.end();
    closedOne();
  });
  client.resume();
}
