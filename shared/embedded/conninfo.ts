/** How the embedded cluster addresses a node: a client URL, and a standby's `primary_conninfo`. */
import type { Credentials, EmbeddedNode, UrlOptions } from './types.ts';

/** `postgres://user:password@127.0.0.1:port/database` for a node, as the superuser unless `options` say otherwise. */
export function nodeUrl(node: EmbeddedNode, credentials: Credentials, options: UrlOptions = {}): string {
  return `postgres://${encodeURIComponent(options.user ?? credentials.user)}:${encodeURIComponent(options.password ?? credentials.password)}@127.0.0.1:${node.port}/${options.database ?? 'postgres'}`;
}

/** The `primary_conninfo` with which `standby` streams from `primary`, quoted for postgresql.conf or ALTER SYSTEM. */
export function quotedPrimaryConninfo(primary: EmbeddedNode, standby: EmbeddedNode, credentials: Credentials): string {
  const template = `host=127.0.0.1 port=${primary.port} user=${credentials.user} password=${credentials.password} application_name=${'%s'}`;
  return quoteConninfo(template.replace('%s', standby.name));
}

function quoteConninfo(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
