/**
 * The same-origin policy for requests the worker carries to a dark host of another origin (an
 * intercepted sibling of the app). A browser enforces it in its network layer, which a tunnelled
 * request never reaches, and it does not check a worker's own responses: so the worker does what
 * the browser would (Fetch §4.8-4.9): refuse `same-origin` requests, send a CORS preflight for
 * requests that are not simple and check its answer, check the response's CORS headers, expose only
 * the safelisted and exposed header fields, and give a `no-cors` fetch nothing to read.
 * Requests of the app's own origin never come here.
 */

export interface CrossOriginRequest {
  method: string;
  mode: RequestMode;
  destination: RequestDestination;
  credentials: RequestCredentials;
  /** Header fields the page set (names and values). */
  headers: readonly (readonly [string, string])[];
}

export type CrossOriginPlan =
  /** A network error, as the browser gives (`mode: 'same-origin'` to another origin). */
  | { kind: 'refuse'; reason: string }
  /** Carried; a script may not read the answer (`destination` '' gets an empty one). */
  | { kind: 'no-cors'; readable: false; emptyForScript: boolean }
  /** Carried under CORS, after a preflight when the request is not simple. */
  | { kind: 'cors'; preflight?: { method: string; headers: string[] } };

const SIMPLE_METHODS = new Set(['GET', 'HEAD', 'POST']);
const SAFELISTED_CONTENT_TYPES = new Set([
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'text/plain',
]);
/** Fetch's "CORS-unsafe request-header byte": anything a simple header value may not contain. */
const hasUnsafeByte = (value: string) =>
  [...value].some((c) => {
    const code = c.charCodeAt(0);
    return (code < 0x20 && code !== 0x09) || code === 0x7f || '"():<>?@[\\]{}'.includes(c);
  });

/** Fetch §2.2.2 "CORS-safelisted request-header" (the common cases; anything else is unsafe). */
function safelisted(name: string, value: string): boolean {
  if (value.length > 128) return false;
  switch (name) {
    case 'accept':
      return !hasUnsafeByte(value);
    case 'accept-language':
    case 'content-language':
      return /^[0-9A-Za-z *,\-.;=]*$/.test(value);
    case 'content-type':
      return (
        !hasUnsafeByte(value) &&
        SAFELISTED_CONTENT_TYPES.has(value.split(';')[0]!.trim().toLowerCase())
      );
    case 'range':
      return /^bytes=\d+-\d*$/.test(value);
    default:
      return false;
  }
}

/**
 * Fields the browser itself puts on a request (Chromium shows a worker `User-Agent`), or that page
 * script may not set (forbidden names): they never make a request unsafe.
 */
const BROWSER_FIELDS = new Set([
  'user-agent',
  'accept-charset',
  'accept-encoding',
  'connection',
  'content-length',
  'cookie',
  'date',
  'dnt',
  'expect',
  'host',
  'keep-alive',
  'origin',
  'referer',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'via',
]);
const browserField = (name: string) =>
  BROWSER_FIELDS.has(name) || name.startsWith('sec-') || name.startsWith('proxy-');

/** What to do with a request of our page to another origin that the worker carries. */
export function crossOriginPlan(req: CrossOriginRequest): CrossOriginPlan {
  if (req.mode === 'same-origin')
    return { kind: 'refuse', reason: "a 'same-origin' request to another origin" };
  if (req.mode === 'no-cors' || req.mode === 'navigate')
    return { kind: 'no-cors', readable: false, emptyForScript: req.destination === '' };
  const method = req.method.toUpperCase();
  const unsafe = req.headers
    .map(([n, v]) => [n.toLowerCase(), v] as const)
    .filter(([n, v]) => !browserField(n) && !safelisted(n, v))
    .map(([n]) => n);
  if (SIMPLE_METHODS.has(method) && unsafe.length === 0) return { kind: 'cors' };
  return { kind: 'cors', preflight: { method, headers: [...new Set(unsafe)].sort() } };
}

/** The preflight's header fields (the worker adds Host, Origin and the rest as for any request). */
export function preflightHeaders(preflight: {
  method: string;
  headers: string[];
}): [string, string][] {
  const fields: [string, string][] = [['Access-Control-Request-Method', preflight.method]];
  if (preflight.headers.length > 0)
    fields.push(['Access-Control-Request-Headers', preflight.headers.join(',')]);
  return fields;
}

/** Fetch §4.9 "CORS check": undefined when the response may be shared with `origin`. */
export function corsCheck(
  headers: Headers,
  origin: string,
  credentials: RequestCredentials,
): string | undefined {
  const allowed = headers.get('access-control-allow-origin');
  if (allowed === null) return 'no Access-Control-Allow-Origin';
  if (credentials !== 'include' && allowed === '*') return undefined;
  if (allowed !== origin) return `Access-Control-Allow-Origin is ${allowed}, not ${origin}`;
  if (credentials !== 'include') return undefined;
  return headers.get('access-control-allow-credentials') === 'true'
    ? undefined
    : 'credentials without Access-Control-Allow-Credentials: true';
}

const tokens = (value: string | null) =>
  (value ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);

/** Fetch §4.8 "CORS-preflight fetch", steps 7.x: undefined when the actual request may be sent. */
export function preflightCheck(
  status: number,
  headers: Headers,
  origin: string,
  credentials: RequestCredentials,
  preflight: { method: string; headers: string[] },
): string | undefined {
  if (status < 200 || status > 299) return `the preflight was answered ${status}`;
  const cors = corsCheck(headers, origin, credentials);
  if (cors) return cors;
  const wildcard = credentials !== 'include';
  const methods = tokens(headers.get('access-control-allow-methods'));
  if (
    !SIMPLE_METHODS.has(preflight.method) &&
    !methods.includes(preflight.method) &&
    !(wildcard && methods.includes('*'))
  ) {
    return `the method ${preflight.method} is not allowed`;
  }
  const allowedHeaders = tokens(headers.get('access-control-allow-headers')).map((h) =>
    h.toLowerCase(),
  );
  for (const name of preflight.headers) {
    const byWildcard = wildcard && allowedHeaders.includes('*') && name !== 'authorization';
    if (!allowedHeaders.includes(name) && !byWildcard) return `the header ${name} is not allowed`;
  }
  return undefined;
}

const CORS_RESPONSE_HEADERS = new Set([
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-expose-headers',
]);

const SAFELISTED_RESPONSE_HEADERS = new Set([
  'cache-control',
  'content-language',
  'content-length',
  'content-type',
  'expires',
  'last-modified',
  'pragma',
]);

/**
 * A CORS-filtered response's header list: the safelisted fields and those the server exposes. The
 * CORS fields themselves stay too: Chromium runs its own CORS check on a worker's answer to a CORS
 * request (Firefox does not), and would fail it without them.
 */
export function exposedHeaders(headers: Headers, credentials: RequestCredentials): Headers {
  const exposed = new Set(
    tokens(headers.get('access-control-expose-headers')).map((h) => h.toLowerCase()),
  );
  const all = credentials !== 'include' && exposed.has('*');
  const out = new Headers();
  headers.forEach((value, name) => {
    if (name === 'set-cookie') return;
    if (
      SAFELISTED_RESPONSE_HEADERS.has(name) ||
      CORS_RESPONSE_HEADERS.has(name) ||
      exposed.has(name) ||
      all
    )
      out.append(name, value);
  });
  return out;
}
