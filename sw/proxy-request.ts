import { headerEntries, stripHopByHop } from '../shared/http/request-head.ts';
import { ACCEPT_ENCODING, decodeBody } from './content-decoding.ts';
import { injectShim } from './html-inject.ts';
import { type RequestContext, requestContext } from './request-context.ts';

/**
 * Turns the browser's Fetch `Request` into the HTTP/1.1 request the dark app receives, and the
 * app's response into the `Response` handed back to the browser.
 *
 * What the app sees is what it would see behind a reverse proxy (nginx, as Mattermost documents
 * it) on the public hostname: `Host` is the public host, so SiteURL, origin checks and absolute
 * links agree; `X-Forwarded-Proto` carries the public scheme (Mattermost derives cookie security
 * and redirect URLs from it). `X-Forwarded-For`/`X-Real-IP` are not sent: the service worker cannot
 * know the client's public address, and a page-supplied value would be a spoof, so any such field
 * from the page is dropped too. The browser adds Origin, Referer, Sec-Fetch-*, User-Agent,
 * Accept-Language and Cookie only at its network layer, which a tunnelled request never reaches, so
 * we add them here, decided from the request's context (`request-context.ts`).
 */

export interface ProxyRequestOptions {
  /** The app's public origin (`https://chat.example.com`). */
  publicOrigin: string;
  /**
   * `Host` to send. Default: the public host for app-origin requests (what a reverse proxy in
   * front of the app sends), the URL's host for intercepted hosts. Set it to use the intercept
   * address instead.
   */
  host?: string;
  /** `Cookie` value from the jar ('' or undefined: none). */
  cookie?: string;
  /** `Authorization` from the worker's HTTP credentials (`http-auth.ts`); one the page set wins. */
  authorization?: string;
  /** Origin and fetch metadata, when the caller already decided them (default: from `request`). */
  context?: RequestContext;
  /** `navigator.userAgent` (the browser adds it only on its own network requests). */
  userAgent?: string;
  /** e.g. from `navigator.languages` (same reason). */
  acceptLanguage?: string;
}

export interface OutgoingRequestHead {
  method: string;
  /** origin-form: path and query, never the fragment. */
  target: string;
  headers: [string, string][];
}

/** Fields a page must not choose; we set the true values ourselves or leave them out. */
const DROPPED_REQUEST_HEADERS = new Set([
  'host',
  'cookie',
  'content-length',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
  'accept-encoding',
  'service-worker-navigation-preload',
  'origin',
  'sec-fetch-site',
  'sec-fetch-mode',
  'sec-fetch-dest',
  'sec-fetch-user',
]);

/** Builds method, target and header fields for a Fetch request (see the module comment). */
export function buildRequestHead(request: Request, opts: ProxyRequestOptions): OutgoingRequestHead {
  const url = new URL(request.url);
  const publicUrl = new URL(opts.publicOrigin);
  const sameOrigin = url.origin === publicUrl.origin;
  const host = opts.host ?? (sameOrigin ? publicUrl.host : url.host);
  const method = request.method.toUpperCase();
  const headers: [string, string][] = [['Host', host]];
  for (const [name, value] of stripHopByHop(headerEntries(request.headers))) {
    if (!DROPPED_REQUEST_HEADERS.has(name.toLowerCase())) headers.push([name, value]);
  }
  const has = (n: string) => headers.some(([k]) => k.toLowerCase() === n);
  const context = opts.context ?? requestContext(request, opts.publicOrigin);
  if (context.origin !== undefined) headers.push(['Origin', context.origin]);
  headers.push(...context.fetchMetadata);
  const referer = refererFor(request, url);
  if (referer && !has('referer')) headers.push(['Referer', referer]);
  if (opts.userAgent && !has('user-agent')) headers.push(['User-Agent', opts.userAgent]);
  if (opts.acceptLanguage && !has('accept-language')) {
    headers.push(['Accept-Language', opts.acceptLanguage]);
  }
  // A range of an encoded body cannot be decoded on its own, so ranges are asked for unencoded.
  headers.push(['Accept-Encoding', has('range') ? 'identity' : ACCEPT_ENCODING]);
  if (opts.cookie) headers.push(['Cookie', opts.cookie]);
  if (opts.authorization && !has('authorization'))
    headers.push(['Authorization', opts.authorization]);
  headers.push(['X-Forwarded-Proto', url.protocol.slice(0, -1)]);
  return { method, target: url.pathname + url.search, headers };
}

/**
 * The Referer a browser would send (Referrer Policy §8.3, default strict-origin-when-cross-origin):
 * the referrer URL without fragment or credentials, trimmed to its origin or dropped by policy.
 */
export function refererFor(request: Request, target: URL): string | undefined {
  const ref = request.referrer;
  if (!ref || ref === 'about:client' || !/^https?:/.test(ref)) return undefined;
  const r = new URL(ref);
  r.hash = '';
  r.username = '';
  r.password = '';
  const full = r.href;
  const origin = `${r.origin}/`;
  const same = r.origin === target.origin;
  const downgrade = r.protocol === 'https:' && target.protocol !== 'https:';
  switch (request.referrerPolicy) {
    case 'no-referrer':
      return undefined;
    case 'origin':
      return origin;
    case 'unsafe-url':
      return full;
    case 'same-origin':
      return same ? full : undefined;
    case 'strict-origin':
      return downgrade ? undefined : origin;
    case 'origin-when-cross-origin':
      return same ? full : origin;
    case 'no-referrer-when-downgrade':
      return downgrade ? undefined : full;
    default: // '' and 'strict-origin-when-cross-origin'
      return same ? full : downgrade ? undefined : origin;
  }
}

/** Bodies up to this size are read into memory: known length, and replayable on a retry. */
const SMALL_BODY = 64 * 1024;

/**
 * The request body to send. Read through `blob()`, which every browser supports for intercepted
 * requests (Firefox has no `Request.body`) and which gives the size, so the app gets a
 * Content-Length. A file upload's blob is backed by the file, so large bodies still stream from
 * `blob.stream()`.
 */
export async function readRequestBody(
  request: Request,
): Promise<{ body: Uint8Array | ReadableStream<Uint8Array> | null; contentLength?: number }> {
  if (request.method === 'GET' || request.method === 'HEAD') return { body: null };
  const blob = await request.blob();
  if (blob.size === 0) return { body: null };
  if (blob.size <= SMALL_BODY) return { body: new Uint8Array(await blob.arrayBuffer()) };
  return { body: blob.stream() as ReadableStream<Uint8Array>, contentLength: blob.size };
}

export interface BrowserResponseOptions {
  publicOrigin: string;
  /** Origins the app may call itself by (its intercept address): their redirects are rewritten. */
  darkOrigins?: readonly string[];
  /** Inject the page shim into an HTML body (for navigations). */
  injectShim?: boolean;
}

/** The parts of a parsed response the browser response is made from. */
export interface UpstreamResponse {
  status: number;
  statusText: string;
  rawHeaders: readonly (readonly [string, string])[];
  body: ReadableStream<Uint8Array> | null;
}

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * Builds the browser's `Response`: hop-by-hop fields and Set-Cookie (the jar consumed it) removed,
 * gzip/deflate bodies decoded (the browser does not decode a service worker's response), an
 * absolute `Location` to the dark host pointed at the public origin, the shim injected into HTML
 * when asked; every other field, CSP included, as the app sent it. Redirects are returned as they
 * are, for the browser to follow or not (`redirect: manual` semantics).
 */
export function buildBrowserResponse(
  res: UpstreamResponse,
  opts: BrowserResponseOptions,
): Response {
  let headers = new Headers();
  for (const [name, value] of stripHopByHop(res.rawHeaders.map(([n, v]) => [n, v]))) {
    const lower = name.toLowerCase();
    if (lower === 'set-cookie' || lower === 'set-cookie2') continue;
    headers.append(name, lower === 'location' ? rewriteLocation(value, opts) : value);
  }
  let body = NULL_BODY_STATUSES.has(res.status) ? null : res.body;
  if (body && opts.injectShim) {
    const injected = injectShim(res.status, headers, body);
    headers = injected.headers;
    body = injected.body;
  }
  if (body) {
    const decoded = decodeBody(headers, body);
    headers = decoded.headers;
    body = decoded.body;
  }
  return new Response(body, { status: res.status, statusText: res.statusText, headers });
}

/**
 * Points an absolute Location at the public origin when it names one of the dark origins, or the
 * public host with the wrong scheme (an app behind a TLS-terminating proxy often says http://).
 * Relative and foreign locations are left alone.
 */
export function rewriteLocation(location: string, opts: BrowserResponseOptions): string {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return location; // relative: the browser resolves it against the public URL already
  }
  const pub = new URL(opts.publicOrigin);
  const dark = (opts.darkOrigins ?? []).some((o) => {
    const d = new URL(o);
    return d.host === url.host && (d.protocol === url.protocol || url.protocol.startsWith('http'));
  });
  const wrongScheme =
    url.hostname === pub.hostname &&
    url.protocol !== pub.protocol &&
    /^https?:$/.test(url.protocol) &&
    (url.port === '' || url.port === pub.port);
  if (!dark && !wrongScheme) return location;
  return `${pub.origin}${url.pathname}${url.search}${url.hash}`;
}
