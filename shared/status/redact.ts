/**
 * The diagnostics report: a snapshot as JSON for a support ticket. The snapshot is built without
 * secrets; this is the second line: every string is searched for the secrets the worker holds
 * (tokens, cookie values) and for anything shaped like a JWT, and fields whose names say secret
 * are dropped.
 */

const REDACTED = '[redacted]';
/** Three base64url parts, the first a JSON header: a JWT, whoever issued it. */
const JWT = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const SECRET_FIELD = /token|secret|password|cookie|authorization|private|^key$|jwt|csr/i;
/** Shorter strings are not searched for (they would match by chance). */
const MIN_SECRET_LENGTH = 6;

/** A deep copy of `value` with `secrets` and JWTs replaced in every string, secret fields dropped. */
export function scrub<T>(value: T, secrets: Iterable<string> = []): T {
  const list = [...new Set(secrets)]
    .filter((s) => s.length >= MIN_SECRET_LENGTH)
    .sort((a, b) => b.length - a.length);
  const clean = (v: unknown): unknown => {
    if (typeof v === 'string') {
      let out = v.replace(JWT, REDACTED);
      for (const s of list) if (out.includes(s)) out = out.split(s).join(REDACTED);
      return out;
    }
    if (Array.isArray(v)) return v.map(clean);
    if (typeof v === 'object' && v !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (!SECRET_FIELD.test(k)) out[k] = clean(x);
      return out;
    }
    return v;
  };
  return clean(value) as T;
}

/** The report a person copies: what the page knows, the snapshot, scrubbed, as indented JSON. */
export function diagnosticsReport(
  snapshot: unknown,
  page: Record<string, unknown>,
  secrets: Iterable<string> = [],
): string {
  return JSON.stringify(
    scrub({ report: 'zt-browser diagnostics', page, worker: snapshot }, secrets),
    null,
    2,
  );
}
