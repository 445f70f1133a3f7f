import type { SameSiteContext } from './cookie-jar.ts';
import { toughCookie } from './tough-cookie.ts';

/**
 * What a browser's network layer decides from a request's context before it leaves: which cookies
 * go along (SameSite, credentials mode), the `Origin` it carries, and the `Sec-Fetch-*` metadata.
 * A tunnelled request never reaches that layer, so the worker decides it here, from what a fetch
 * event shows: the mode, method, destination, credentials mode, referrer and referrer policy.
 *
 * Who started a request: the worker only sees subresource requests of its own pages, so their
 * initiator is the app's origin. A navigation may come from anywhere; its initiator is the origin
 * of `request.referrer` (already reduced by the referrer policy, but never to another origin). A
 * navigation without a referrer is either typed, bookmarked or opened from outside the browser
 * (what browsers call `Sec-Fetch-Site: none`), or comes from a page that withholds its referrer:
 * a safe (GET/HEAD) one is taken as the first, an unsafe one (a form POST) as cross-site.
 */

/** The fields of a Fetch `Request` this decision reads. */
export interface RequestFacts {
  url: string;
  method: string;
  mode: RequestMode;
  destination: RequestDestination;
  credentials: RequestCredentials;
  referrer: string;
  referrerPolicy: ReferrerPolicy;
}

export interface RequestContext {
  /** Cookies to attach: the SameSite context for the jar, or none at all. */
  cookies: SameSiteContext | 'omit';
  /** The `Origin` field to send (`'null'` for an opaque origin), or undefined for none. */
  origin?: string;
  /** `Sec-Fetch-Site`, `-Mode`, `-Dest` as the browser would send them (potentially trustworthy URLs only). */
  fetchMetadata: [string, string][];
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** Schemeful same-site (RFC 6265bis §5.2): same scheme and same registrable domain (or same host). */
export function sameSite(a: URL, b: URL): boolean {
  if (a.protocol !== b.protocol) return false;
  if (a.hostname === b.hostname) return true;
  const siteA = registrableDomain(a.hostname);
  return siteA !== undefined && siteA === registrableDomain(b.hostname);
}

/** The registrable domain (eTLD+1) of a host name; undefined for IP literals and bare suffixes. */
function registrableDomain(hostname: string): string | undefined {
  if (/^[\d.]+$/.test(hostname) || hostname.startsWith('[')) return undefined;
  return toughCookie().getPublicSuffix(hostname, { allowSpecialUseDomain: true }) ?? undefined;
}

/** The initiator's origin: ours for subresources, the referrer's for navigations (if any). */
function initiatorOf(req: RequestFacts, appOrigin: URL): URL | undefined {
  if (req.mode !== 'navigate') return appOrigin;
  if (!req.referrer || req.referrer === 'about:client' || !/^https?:/.test(req.referrer))
    return undefined;
  try {
    return new URL(new URL(req.referrer).origin);
  } catch {
    return undefined;
  }
}

/** `Sec-Fetch-Site` from the initiator (undefined: none, or cross-site for an unsafe navigation). */
function fetchSite(initiator: URL | undefined, target: URL, safe: boolean): string {
  if (!initiator) return safe ? 'none' : 'cross-site';
  if (initiator.origin === target.origin) return 'same-origin';
  return sameSite(initiator, target) ? 'same-site' : 'cross-site';
}

/**
 * The `Origin` a browser sends (Fetch, "append a request Origin header"): on CORS requests and on
 * every unsafe method, reduced to `null` where the referrer policy says so.
 */
function originFor(
  req: RequestFacts,
  initiator: URL | undefined,
  target: URL,
  method: string,
): string | undefined {
  const serialized = initiator?.origin ?? 'null';
  if (req.mode === 'cors' && initiator?.origin !== target.origin) return serialized;
  if (SAFE_METHODS.has(method)) return undefined;
  if (!initiator) return 'null';
  switch (req.referrerPolicy) {
    case 'no-referrer':
      return 'null';
    case 'same-origin':
      return initiator.origin === target.origin ? serialized : 'null';
    case 'no-referrer-when-downgrade':
    case 'strict-origin':
    case 'strict-origin-when-cross-origin':
    case '':
      return initiator.protocol === 'https:' && target.protocol !== 'https:' ? 'null' : serialized;
    default:
      return serialized;
  }
}

/** The SameSite context of the request (RFC 6265bis §5.2.1 and §5.2.2), or no cookies at all. */
function cookiesFor(
  req: RequestFacts,
  initiator: URL | undefined,
  target: URL,
  safe: boolean,
): SameSiteContext | 'omit' {
  if (req.credentials === 'omit') return 'omit';
  if (req.credentials === 'same-origin' && initiator?.origin !== target.origin) return 'omit';
  if (req.mode !== 'navigate') return initiator && sameSite(initiator, target) ? 'strict' : 'none';
  if (!initiator) return safe ? 'strict' : 'none';
  if (sameSite(initiator, target)) return 'strict';
  // Cross-site: a top-level navigation by a safe method still carries Lax cookies.
  return safe && req.destination === 'document' ? 'lax' : 'none';
}

/** Whether the browser sends fetch metadata to this URL (potentially trustworthy origins only). */
function trustworthy(url: URL): boolean {
  return (
    url.protocol === 'https:' ||
    url.hostname === 'localhost' ||
    url.hostname.endsWith('.localhost') ||
    url.hostname === '127.0.0.1' ||
    url.hostname === '[::1]'
  );
}

/** Decides cookies, `Origin` and fetch metadata for one request to the app's origin or a dark host. */
export function requestContext(req: RequestFacts, appOrigin: string): RequestContext {
  const target = new URL(req.url);
  const method = req.method.toUpperCase();
  const safe = SAFE_METHODS.has(method);
  const initiator = initiatorOf(req, new URL(appOrigin));
  const origin = originFor(req, initiator, target, method);
  const fetchMetadata: [string, string][] = trustworthy(target)
    ? [
        ['Sec-Fetch-Site', fetchSite(initiator, target, safe)],
        ['Sec-Fetch-Mode', req.mode],
        ['Sec-Fetch-Dest', req.destination || 'empty'],
      ]
    : [];
  return {
    cookies: cookiesFor(req, initiator, target, safe),
    ...(origin !== undefined ? { origin } : {}),
    fetchMetadata,
  };
}
