/**
 * Secrets are unprintable: every log line, error message, alert and ledger row passes through `redact`.
 *
 * Two layers: known shapes (URL passwords, Slack webhook paths, bearer tokens) are masked wherever they
 * appear, and values registered with `registerSecret` (passwords, tokens, webhook URLs read from config)
 * are masked verbatim, so a secret leaks through no message that quotes it (pg's own error texts, fetch's
 * "fetch failed" causes, stack traces).
 */

const MASK = '***';
const registered = new Set<string>();

/** Remembers a secret value so `redact` masks it everywhere. Short values are ignored (they would mask noise). */
export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < 4) return;
  registered.add(value);
  try {
    // The encoded form appears inside URLs.
    const encoded = encodeURIComponent(value);
    if (encoded !== value) registered.add(encoded);
  } catch {
    // Lone surrogates cannot be encoded; the raw form is registered already.
  }
}

/** For tests: forgets every registered secret. */
export function clearSecrets(): void {
  registered.clear();
}

// scheme://user:password@host → scheme://user:***@host
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):([^\s@/]+)@/gi;
// https://hooks.slack.com/services/T000/B000/XXXX (and workflow triggers) → path masked
const SLACK_HOOK = /(hooks\.slack(?:-gov)?\.com\/)[^\s"'<>]+/gi;
// key=value secrets in libpq connection strings: password=..., and query-string ?password=
const KV_PASSWORD = /\b(password|sslpassword|passwd|token|secret)=([^\s&'"]+)/gi;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/g;

/** Returns `text` with every secret masked. Safe on any string; cheap when nothing matches. */
export function redact(text: string): string {
  let out = text
    .replace(URL_PASSWORD, `$1:${MASK}@`)
    .replace(SLACK_HOOK, `$1${MASK}`)
    .replace(KV_PASSWORD, `$1=${MASK}`)
    .replace(BEARER, `$1 ${MASK}`);
  for (const secret of registered) {
    if (out.includes(secret)) out = out.split(secret).join(MASK);
  }
  return out;
}

/** A one-line, secret-free description of any thrown value, with the SQLSTATE or errno code when there is one. */
export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return redact(error.errors.map((e) => describeError(e)).join('; '));
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const base = error.message || error.name;
    const cause =
      error.cause instanceof Error && error.cause.message && !base.includes(error.cause.message) ? `: ${error.cause.message}` : '';
    return redact(`${typeof code === 'string' && !base.includes(code) ? `${code} ` : ''}${base}${cause}`);
  }
  return redact(String(error));
}
