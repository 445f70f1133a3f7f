import { isFieldValue, isToken, latin1Encode } from './_internal/bytes.ts';
import { HOP_BY_HOP_HEADERS } from './constants.ts';
import { HttpInvalidRequestError } from './errors.ts';

/** Header fields in any of the shapes callers have at hand. Order is kept. */
export type HeaderInput =
  | Headers
  | Iterable<readonly [string, string]>
  | Readonly<Record<string, string | readonly string[]>>;

/** How the request body is framed on the wire; the encoder writes the matching field. */
export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' };

export interface RequestHeadInit {
  method: string;
  /** origin-form (`/path?query`), absolute-form, authority-form (CONNECT) or `*` (OPTIONS). */
  target: string;
  /** Must contain `Host` (RFC 9112 §3.2): the caller decides which host the app sees. */
  headers: HeaderInput;
  framing: BodyFraming;
  /** Keep `Connection: upgrade` and `Upgrade` (a WebSocket handshake); otherwise both are dropped. */
  upgrade?: boolean;
}

/** Normalises any `HeaderInput` to a list of [name, value] pairs, names as given. */
export function headerEntries(input: HeaderInput): [string, string][] {
  const out: [string, string][] = [];
  if (typeof Headers !== 'undefined' && input instanceof Headers) {
    // Headers joins repeated fields with ", " except Set-Cookie; a request has none.
    input.forEach((value, name) => {
      out.push([name, value]);
    });
    return out;
  }
  if (Symbol.iterator in (input as object)) {
    for (const [n, v] of input as Iterable<readonly [string, string]>) out.push([n, v]);
    return out;
  }
  for (const [n, v] of Object.entries(input as Record<string, string | readonly string[]>)) {
    if (typeof v === 'string') out.push([n, v]);
    else for (const one of v) out.push([n, one]);
  }
  return out;
}

/** Names listed in `Connection` fields (lower case): those are hop-by-hop too (RFC 9110 §7.6.1). */
function connectionOptions(entries: readonly [string, string][]): Set<string> {
  const names = new Set<string>();
  for (const [n, v] of entries) {
    if (n.toLowerCase() !== 'connection') continue;
    for (const part of v.split(',')) {
      const name = part.trim().toLowerCase();
      if (name) names.add(name);
    }
  }
  return names;
}

/**
 * Drops hop-by-hop fields: the fixed list, plus those named by `Connection`.
 * With `upgrade`, `Upgrade` and the `Connection: upgrade` option survive.
 */
export function stripHopByHop(
  entries: readonly [string, string][],
  upgrade = false,
): [string, string][] {
  const named = connectionOptions(entries);
  return entries.filter(([n]) => {
    const lower = n.toLowerCase();
    if (upgrade && (lower === 'upgrade' || lower === 'connection')) return true;
    return !HOP_BY_HOP_HEADERS.has(lower) && !named.has(lower);
  });
}

function checkTarget(method: string, target: string): void {
  if (target.length === 0) throw new HttpInvalidRequestError('empty request target');
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    // RFC 9112 §3.2: the target has no whitespace or controls; non-ASCII must be percent-encoded.
    if (c <= 0x20 || c >= 0x7f) {
      throw new HttpInvalidRequestError(
        `request target contains an invalid character (code ${c}) at ${i}`,
      );
    }
  }
  if (target === '*') {
    if (method !== 'OPTIONS') throw new HttpInvalidRequestError('target * is for OPTIONS only');
    return;
  }
  if (method === 'CONNECT' || target.startsWith('/')) return;
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(target)) {
    throw new HttpInvalidRequestError(`request target must start with "/": ${target}`);
  }
}

/**
 * Serialises a request head (RFC 9112 §3): request line, `Host` first, the caller's fields minus
 * hop-by-hop ones and minus any Content-Length (framing is ours), then the framing field.
 * Throws `HttpInvalidRequestError` on a bad method, target, name or value (no CR/LF/NUL injection).
 */
export function encodeRequestHead(init: RequestHeadInit): Uint8Array {
  const { method, target, framing } = init;
  if (!isToken(method))
    throw new HttpInvalidRequestError(`invalid method: ${JSON.stringify(method)}`);
  checkTarget(method, target);
  const entries = stripHopByHop(headerEntries(init.headers), init.upgrade);
  let host: string | undefined;
  const lines: string[] = [];
  for (const [name, rawValue] of entries) {
    if (!isToken(name)) {
      throw new HttpInvalidRequestError(`invalid header name: ${JSON.stringify(name)}`);
    }
    // Leading and trailing whitespace is not part of a field value (RFC 9110 §5.5).
    const value = rawValue.replace(/^[\t ]+|[\t ]+$/g, '');
    if (!isFieldValue(value)) {
      throw new HttpInvalidRequestError(
        `invalid value for header ${name}: ${JSON.stringify(value)}`,
      );
    }
    const lower = name.toLowerCase();
    if (lower === 'content-length') continue;
    if (lower === 'host') {
      if (host !== undefined) throw new HttpInvalidRequestError('more than one Host header');
      host = value;
      continue;
    }
    lines.push(`${name}: ${value}\r\n`);
  }
  if (host === undefined || host === '')
    throw new HttpInvalidRequestError('a Host header is required');
  if (framing.kind === 'length') {
    if (!Number.isSafeInteger(framing.length) || framing.length < 0) {
      throw new HttpInvalidRequestError(`invalid content length: ${framing.length}`);
    }
    lines.push(`Content-Length: ${framing.length}\r\n`);
  } else if (framing.kind === 'chunked') {
    lines.push('Transfer-Encoding: chunked\r\n');
  } else if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    // RFC 9110 §8.6: a user agent should send Content-Length: 0 for a body-less POST/PUT.
    lines.push('Content-Length: 0\r\n');
  }
  return latin1Encode(`${method} ${target} HTTP/1.1\r\nHost: ${host}\r\n${lines.join('')}\r\n`);
}
