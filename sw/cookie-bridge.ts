/**
 * `document.cookie` for browsers whose service worker has no `cookieStore` (Firefox): the SW's
 * cookie jar is the truth, and the page shim (bootstrap/shim/document-cookie.ts) keeps a mirror
 * so the getter stays synchronous.
 *
 * - Initial snapshot, synchronous by construction: the SW answers the page's request for
 *   `/__zt/shim.js` itself, prefixing the script with `self.__ztDocumentCookie = "<cookies>";`
 *   for the page's URL (`withCookieSnapshot`). The shim runs before any app script and finds the
 *   value in place; no inline script (the app's CSP stays untouched) and no extra round trip.
 *   That response is `no-store`: it carries per-page state.
 * - Writes: the shim updates its mirror at once and posts `{ type: 'zt/cookie-set', url, cookie }`
 *   to the SW (`handleCookieBridgeRequest`), which applies it to the jar with the page's URL.
 * - Updates: after the jar changes (a tunnelled response set cookies, or a page wrote one), the SW
 *   broadcasts `{ type: 'zt/cookie-update', url, cookie }` on `COOKIE_CHANNEL` (`announceCookies`);
 *   the page whose URL it is replaces its mirror, other pages ask for their own (`zt/cookie-get`).
 *   An update says when the first of the page's cookies expires; the shim asks again then, since
 *   nothing else would tell it that the jar dropped the cookie.
 * The messages, names and the snapshot's global: shared/page-worker/.
 */
import {
  type CookieBridgeRequest,
  type CookieUpdate,
  cookieSnapshotPrelude,
} from '../shared/page-worker/messages.ts';
import { COOKIE_CHANNEL, COOKIE_SET, COOKIE_UPDATE } from '../shared/page-worker/names.ts';
import type { CookieJar } from './cookie-jar.ts';

export type DocumentCookieJar = Pick<
  CookieJar,
  'documentCookie' | 'documentCookieExpiry' | 'setFromDocument'
>;

/** The update for the page at `url`: its `document.cookie`, and when the first of them expires. */
async function updateFor(jar: DocumentCookieJar, url: string): Promise<CookieUpdate> {
  const cookie = await jar.documentCookie(url);
  const expires = await jar.documentCookieExpiry(url);
  return { type: COOKIE_UPDATE, url, cookie, ...(expires === undefined ? {} : { expires }) };
}

/** The shim's response with the page's cookies (and any `more` script lines) in front; not cacheable. */
export async function withCookieSnapshot(
  shim: Response,
  jar: DocumentCookieJar,
  pageUrl: string,
  more = '',
): Promise<Response> {
  const prelude = cookieSnapshotPrelude(await jar.documentCookie(pageUrl)) + more;
  const body = await shim.text();
  const headers = new Headers(shim.headers);
  headers.set('Cache-Control', 'no-store');
  headers.set('Content-Type', 'text/javascript; charset=utf-8');
  headers.delete('Content-Length');
  headers.delete('ETag');
  headers.delete('Last-Modified');
  return new Response(prelude + body, { status: 200, headers });
}

/**
 * Applies a page's request and returns the page's `document.cookie` afterwards. `appOrigin`
 * bounds it: a page may only read or write cookies for URLs of the app's origin.
 */
export async function handleCookieBridgeRequest(
  req: CookieBridgeRequest,
  jar: DocumentCookieJar,
  appOrigin: string,
): Promise<CookieUpdate> {
  const url = new URL(req.url);
  if (url.origin !== appOrigin)
    throw new Error(`cookie request for a foreign origin: ${url.origin}`);
  if (req.type === COOKIE_SET) await jar.setFromDocument(url.href, req.cookie);
  return updateFor(jar, url.href);
}

let channel: BroadcastChannel | null = null;

/** Tells pages the jar changed (`pageUrl`: the page that caused it, which gets its value). */
export async function announceCookies(
  jar: DocumentCookieJar,
  pageUrl: string,
  post: (m: CookieUpdate) => void = (m) => {
    channel ??= new BroadcastChannel(COOKIE_CHANNEL);
    channel.postMessage(m);
  },
): Promise<void> {
  post(await updateFor(jar, pageUrl));
}
