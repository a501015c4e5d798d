/**
 * The protocol reading behind cancel routing, on byte streams shaped as PostgreSQL sends them: the server's
 * startup messages split anywhere or packed into one read, an SSL answer first, protocol 3.2's longer keys; the
 * client's first packet; and the shared key table. (cancel.test.ts runs the same through the proxy against real
 * PostgreSQL, on both data paths; native/splice.c implements this same scan.)
 */
import { describe, expect, it } from 'vitest';
import { cancelKey, classifyFirstPacket, createBackendKeyScanner } from '../../shared/proxy/backend-key.ts';
import { attachCancelKeys, createCancelKeyBuffer } from '../../shared/proxy/cancel-keys.ts';

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'ascii');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function int32(...values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 4);
  for (const [i, value] of values.entries()) out.writeInt32BE(value, i * 4);
  return out;
}

function parameterStatus(name: string, value: string): Buffer {
  return message('S', Buffer.from(`${name}\0${value}\0`));
}

/** AuthenticationOk, some ParameterStatus, BackendKeyData(pid, secret), ReadyForQuery, then a query's answer. */
function startupStream(pid: number, secret: Buffer): Buffer {
  return Buffer.concat([
    message('R', int32(0)),
    parameterStatus('server_version', '15.18'),
    parameterStatus('client_encoding', 'UTF8'),
    message('K', Buffer.concat([int32(pid), secret])),
    message('Z', Buffer.from('I')),
    // After ReadyForQuery: a RowDescription-like message with a K in it must not be read as a key.
    message('K', int32(1, 2)),
  ]);
}

function cancelRequest(pid: number, secret: Buffer): Buffer {
  return Buffer.concat([int32(12 + secret.length, 80877102, pid), secret]);
}

/** Feeds `stream` in the given chunk sizes; returns the keys seen, whether it went encrypted, and where it stopped. */
function scan(stream: Buffer, chunk: number) {
  const keys: Array<{ pid: number; keyHash: number }> = [];
  let encrypted = false;
  let stoppedAt = -1;
  const scanner = createBackendKeyScanner(
    (pid, keyHash) => keys.push({ pid, keyHash }),
    () => {
      encrypted = true;
    },
  );
  for (let at = 0; at < stream.length; at += chunk) {
    const piece = stream.subarray(at, Math.min(stream.length, at + chunk));
    if (!scanner.feed(piece, piece.length)) {
      stoppedAt = at;
      break;
    }
  }
  return { keys, encrypted, stoppedAt };
}

describe('the server-side scan for BackendKeyData', () => {
  const secret = int32(0x1234_5678);
  const stream = startupStream(4242, secret);

  it.each([1, 2, 3, 5, 7, 13, 64, 4096])('finds the key and stops at ReadyForQuery, in reads of %i bytes', (chunk) => {
    const { keys, encrypted, stoppedAt } = scan(stream, chunk);
    expect(keys).toEqual([cancelKey(cancelRequest(4242, secret))]);
    expect(encrypted).toBe(false);
    expect(stoppedAt).toBeGreaterThanOrEqual(0);
  });

  it('goes on after an SSL refusal (N) and stops at an accepted one (S): an encrypted session has no readable key', () => {
    expect(scan(Buffer.concat([Buffer.from('N'), stream]), 3).keys).toEqual([cancelKey(cancelRequest(4242, secret))]);
    const accepted = scan(Buffer.concat([Buffer.from('S'), stream]), 64);
    expect(accepted).toMatchObject({ keys: [], encrypted: true, stoppedAt: 0 });
  });

  it("reads protocol 3.2's longer keys (32 bytes) the way a CancelRequest with that key is read", () => {
    const long = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff));
    expect(scan(startupStream(7, long), 5).keys).toEqual([cancelKey(cancelRequest(7, long))]);
    expect(cancelKey(cancelRequest(7, long))).not.toEqual(cancelKey(cancelRequest(7, long.subarray(0, 31))));
  });

  it('stops on a stream that is not PostgreSQL startup (a TLS ServerHello from a direct-SSL server)', () => {
    expect(scan(Buffer.from([0x16, 0x03, 0x03, 0x00, 0x10]), 5)).toMatchObject({ keys: [], stoppedAt: 0 });
  });
});

describe("the client's first packet", () => {
  it('tells a CancelRequest (once complete) from a session', () => {
    const cancel = cancelRequest(99, int32(5));
    expect(classifyFirstPacket(cancel.subarray(0, 7))).toBe('more');
    expect(classifyFirstPacket(cancel.subarray(0, 12))).toBe('more');
    expect(classifyFirstPacket(cancel)).toBe('cancel');
    expect(classifyFirstPacket(int32(8, 80877103))).toBe('session'); // SSLRequest
    expect(classifyFirstPacket(Buffer.concat([int32(40, 196608), Buffer.alloc(32)]))).toBe('session'); // StartupMessage 3.0
    expect(classifyFirstPacket(int32(12 + 300, 80877102, 1))).toBe('session'); // longer than any key: not a cancel
  });
});

describe('the shared key table', () => {
  it('finds a recorded key from another view of the same memory, forgets it when its session closes', () => {
    const buffer = createCancelKeyBuffer(8);
    const writer = attachCancelKeys(buffer);
    const reader = attachCancelKeys(buffer);
    const entry = writer.record(11, 22, 3);
    expect(reader.lookup(11, 22)).toBe(3);
    expect(reader.lookup(11, 23)).toBe(-1);
    writer.forget(entry);
    expect(reader.lookup(11, 22)).toBe(-1);
  });

  it('holds one entry per open client, however many come and go (bounded memory)', () => {
    const keys = attachCancelKeys(createCancelKeyBuffer(4));
    for (let round = 0; round < 1000; round++) {
      const entries = [0, 1, 2, 3].map((i) => keys.record(round, i, i));
      expect(entries.every((entry) => entry >= 0)).toBe(true);
      expect(keys.lookup(round, 2)).toBe(2);
      for (const entry of entries) keys.forget(entry);
    }
    expect(keys.lookup(999, 2)).toBe(-1);
  });
});
