/**
 * The proxy API's one guard for mutations, and what the API says about its own exposure at start. Every request
 * that is not a read (GET, HEAD) passes `authorizeMutation` before any route sees it, so a route added later
 * (switchover, pause, requeue …) cannot be reached without the token: the guard fails closed, with no token
 * configured nothing mutates at all.
 */
import { timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';

/** The refusal a mutation meets while no token is configured (the API's 403 body). */
export const MUTATIONS_DISABLED = 'mutations are disabled: no API token configured';

/**
 * `allowed`: the bearer token matches. `disabled`: no token is configured, so no caller may mutate (403).
 * `unauthorized`: a token is configured and the request's is missing or wrong (401).
 */
export type MutationVerdict = 'allowed' | 'disabled' | 'unauthorized';

/**
 * Decides whether a mutating request may run, from its `Authorization` header and the configured token. The
 * comparison is constant-time (a wrong token's length is the only thing its timing tells).
 *
 * @example
 * authorizeMutation(undefined, undefined);               // 'disabled'
 * authorizeMutation('Bearer nope', 's3cret-token');      // 'unauthorized'
 * authorizeMutation('Bearer s3cret-token', 's3cret-token'); // 'allowed'
 */
export function authorizeMutation(authorization: string | undefined, token: string | undefined): MutationVerdict {
  if (!token) return 'disabled';
  const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  if (!match) return 'unauthorized';
  const given = Buffer.from(match[1] as string);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected) ? 'allowed' : 'unauthorized';
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * True when `host` only accepts connections from this machine. A wildcard (`0.0.0.0`, `::`, empty), another
 * address or a host name other than `localhost` counts as reachable from elsewhere: when in doubt, say so.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost') return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  const address = mapped ? (mapped[1] as string) : bare;
  const family = isIP(address);
  if (family === 0) return false;
  return LOOPBACK.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** A line the API logs when it starts listening. */
export interface ExposureNotice {
  readonly level: 'info' | 'error';
  readonly message: string;
}

/**
 * What the API tells the operator about its mutations when it binds `address` (host:port): nothing with a token;
 * without one, an info line on loopback and one error line when it is reachable from elsewhere — there the
 * operator most likely meant to set a token and drain/undrain will answer 403 until they do.
 */
export function describeApiExposure(host: string, address: string, token: string | undefined): ExposureNotice | null {
  if (token) return null;
  if (isLoopbackHost(host)) return { level: 'info', message: `proxy API on ${address}: ${MUTATIONS_DISABLED}` };
  return {
    level: 'error',
    message:
      `proxy API on ${address} is reachable off this host and has no token: ${MUTATIONS_DISABLED} ` +
      '(drain/undrain answer 403; set proxy.apiToken or PGWARDEN_PROXY_API_TOKEN to enable them)',
  };
}
