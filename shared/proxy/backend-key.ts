/**
 * The two places the proxy reads the PostgreSQL stream to route cancels (cancel-keys.ts says why): the client's
 * first packet (is it a CancelRequest, and for which key?) and the server's startup messages up to the first
 * ReadyForQuery (BackendKeyData: which key did this node issue?). native/splice.c does the same in C.
 *
 * - The first packet is read before a node is chosen; a session's bytes are then forwarded unchanged.
 * - The server stream is scanned only until ReadyForQuery ('Z'), then never again: the splice drops the scanner.
 *   Messages may arrive split anywhere or several to a read; the scanner keeps a 5-byte header and the key's
 *   running hash, no buffer.
 * - SSL/GSS: a session that asked for encryption gets one byte back. 'N' (declined) and the scan goes on; 'S' or
 *   'G' (accepted) and the rest is encrypted: its key cannot be read. The proxy does not terminate TLS (it is a TCP
 *   proxy, like HAProxy in `mode tcp`), so such a session's cancel cannot be routed by key: while any encrypted
 *   session is open, a cancel with an unknown key is routed as before this existed (the listener's rule: the
 *   primary on the read-write port, least connections on the read-only one) rather than dropped, so that
 *   read-write cancels keep working for TLS users; with none open, an unknown key is dropped as PostgreSQL does.
 * - Keys: protocol 3.0 (every PostgreSQL up to 18 by default) sends 4-byte secrets; 3.2 allows up to 256 bytes.
 *   Both are handled: the table keeps a 32-bit hash of the secret (a collision forwards a cancel the node then
 *   rejects, as it would a wrong key).
 */
import { hashKey, hashKeyByte, KEY_HASH_SEED } from './cancel-keys.ts';

/** The request code of a CancelRequest (in place of the protocol version). */
export const CANCEL_REQUEST = 80877102;
/** Longest secret protocol 3.2 allows. */
export const MAX_KEY_BYTES = 256;
/** A CancelRequest: length, code, pid, then the secret (4 bytes in protocol 3.0). */
const CANCEL_HEADER = 12;

/**
 * What the client's first packet (`head`, as read so far) is: `more` (not enough to tell yet, or a cancel not all
 * here), `cancel` (a complete CancelRequest), or `session` (anything else: forward what was read).
 */
export function classifyFirstPacket(head: Uint8Array): 'more' | 'session' | 'cancel' {
  if (head.length < 8) return 'more';
  const view = new DataView(head.buffer, head.byteOffset, head.length);
  const size = view.getInt32(0);
  if (view.getInt32(4) !== CANCEL_REQUEST || size < CANCEL_HEADER + 4 || size > CANCEL_HEADER + MAX_KEY_BYTES) return 'session';
  return head.length < size ? 'more' : 'cancel';
}

/** The key a complete CancelRequest names. */
export function cancelKey(packet: Uint8Array): { pid: number; keyHash: number } {
  const view = new DataView(packet.buffer, packet.byteOffset, packet.length);
  return { pid: view.getInt32(8), keyHash: hashKey(packet, CANCEL_HEADER, view.getInt32(0)) };
}

export interface BackendKeyScanner {
  /** Scans `bytes[0, length)` from the server; false once done (ReadyForQuery, encryption or garbage). */
  feed(bytes: Uint8Array, length: number): boolean;
}

const PRE = 0;
const MESSAGES = 1;
const DONE = 2;

/** A scanner for one server stream: `onKey` gets the BackendKeyData, `onEncrypted` an accepted SSL/GSS request. */
export function createBackendKeyScanner(onKey: (pid: number, keyHash: number) => void, onEncrypted: () => void): BackendKeyScanner {
  let phase = PRE;
  const header = new Uint8Array(5);
  let headerLength = 0;
  let remaining = 0;
  let inBody = false;
  let isKey = false;
  let bodyOffset = 0;
  let pid = 0;
  let hash = KEY_HASH_SEED | 0;

  /** A header is complete: what its message is, and whether the scan goes on. */
  const onHeader = (): boolean => {
    headerLength = 0;
    const type = header[0] as number;
    const length = ((header[1] as number) << 24) | ((header[2] as number) << 16) | ((header[3] as number) << 8) | (header[4] as number);
    if (length < 4 || type === 0x5a /* Z: ReadyForQuery */) return false;
    remaining = length - 4;
    // K: BackendKeyData; pid then a 4..256-byte secret. Another length is not a key this proxy can route by.
    isKey = type === 0x4b && remaining >= 8 && remaining <= 4 + MAX_KEY_BYTES;
    bodyOffset = 0;
    pid = 0;
    hash = KEY_HASH_SEED | 0;
    inBody = remaining > 0;
    return true;
  };

  return {
    feed(bytes, length) {
      let at = 0;
      while (at < length) {
        if (phase === PRE && headerLength === 0) {
          const byte = bytes[at] as number;
          if (byte === 0x4e /* N: SSL/GSS declined */) {
            at++;
            continue;
          }
          if (byte === 0x53 || byte === 0x47 /* S, G: encryption accepted */) {
            phase = DONE;
            onEncrypted();
            return false;
          }
          // The first message of a session: Authentication, ErrorResponse or NegotiateProtocolVersion.
          if (byte !== 0x52 && byte !== 0x45 && byte !== 0x76) {
            phase = DONE;
            return false;
          }
          phase = MESSAGES;
        }
        if (!inBody) {
          header[headerLength++] = bytes[at++] as number;
          if (headerLength === 5 && !onHeader()) {
            phase = DONE;
            return false;
          }
          continue;
        }
        const take = Math.min(remaining, length - at);
        if (isKey) {
          for (let i = at; i < at + take; i++, bodyOffset++) {
            const byte = bytes[i] as number;
            if (bodyOffset < 4) pid = (pid << 8) | byte;
            else hash = hashKeyByte(hash, byte);
          }
        }
        at += take;
        remaining -= take;
        if (remaining === 0) {
          inBody = false;
          if (isKey) onKey(pid, hash);
        }
      }
      return true;
    },
  };
}
