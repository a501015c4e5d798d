/** How the embedded cluster addresses a node: a client URL, and a standby's `primary_conninfo`. */
import type { Credentials, EmbeddedNode, UrlOptions } from './types.ts';

/** `postgres://user:password@127.0.0.1:port/database` for a node, as the superuser unless `options` say otherwise. */
export function nodeUrl(node: EmbeddedNode, credentials: Credentials, options: UrlOptions = {}): string {
  return `postgres://${encodeURIComponent(options.user ?? credentials.user)}:${encodeURIComponent(options.password ?? credentials.password)}@127.0.0.1:${node.port}/${options.database ?? 'postgres'}`;
}

/**
 * The libpq connection string with which `standby` streams from `primary`. Every value is single-quoted, with a
 * backslash or a quote escaped by a backslash (libpq's keyword/value rules), so any password survives: a space, a
 * quote, a backslash or a `%s` in it included.
 */
export function primaryConninfo(primary: EmbeddedNode, standby: EmbeddedNode, credentials: Credentials): string {
  const pairs: Array<[string, string]> = [
    ['host', '127.0.0.1'],
    ['port', String(primary.port)],
    ['user', credentials.user],
    ['password', credentials.password],
    ['application_name', standby.name],
  ];
  return pairs.map(([key, value]) => `${key}='${value.replace(/[\\']/g, (c) => `\\${c}`)}'`).join(' ');
}

/**
 * A string value for postgresql.conf: single quotes, a quote doubled. Backslashes are doubled too, since the file's
 * parser reads backslash escapes inside quoted values. (For `ALTER SYSTEM`, quote with the client's `escapeLiteral`: SQL
 * strings take backslashes literally.)
 */
export function confString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}
