/**
 * What the service worker keeps of the app, so a reload without network still shows it: the app's
 * immutable static assets as they pass through (cache-first afterwards) and the last HTML document of
 * each path (served only when the tunnel cannot be reached, with an offline banner). Never API
 * responses, never anything marked `no-store` or `private`, never a body over `MAX_KEPT_BYTES`
 * (bodies stream into the cache, never whole into memory); the bootstrap's logout deletes every
 * cache.
 */

import { SW_HEADER } from '../shared/version.ts';
import { cspScriptNonce } from './html-inject.ts';

/** The runtime cache of app files; bump the suffix when its layout changes (old ones are dropped). */
export const APP_CACHE = 'zt-app-v1';

/** Cache key of the most recent document of any path (an SPA shell fits every path). */
export const LAST_SHELL_KEY = '/__zt/offline-shell';

/** Our offline banner (a precached file) and the marker the cached shell carries. */
export const OFFLINE_TAGS =
  '<meta name="zt-offline" content="1"><script src="/__zt/offline.js"></script>';

/** What a cache decision looks at: the request's method, mode and URL, the response as built. */
export interface CacheCandidate {
  method: string;
  mode: string;
  url: URL;
  status: number;
  headers: Headers;
}

/** The largest body kept; a longer one (declared, or counted as it streams) is not kept. */
export const MAX_KEPT_BYTES = 8 * 1024 * 1024;

const directive = (headers: Headers, name: string) =>
  (headers.get('cache-control') ?? '')
    .toLowerCase()
    .split(',')
    .some((d) => d.trim().split('=')[0] === name);

/**
 * What the response's own headers allow: not `no-store`, not `private` (this cache outlives the
 * person's session and serves whoever opens the app offline next), and no declared length over
 * `maxBytes`. An unknown length is allowed here; `keep` counts it as it streams.
 */
export function mayKeep(headers: Headers, maxBytes = MAX_KEPT_BYTES): boolean {
  if (directive(headers, 'no-store') || directive(headers, 'private')) return false;
  const length = headers.get('content-length');
  return length === null || (/^\d+$/.test(length.trim()) && Number(length) <= maxBytes);
}

/** Passes at most `maxBytes` through, then errors (which cancels the source). */
const byteLimit = (maxBytes: number) => {
  let seen = 0;
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > maxBytes) controller.error(new BodyTooLargeError(maxBytes));
      else controller.enqueue(chunk);
    },
  });
};

class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  constructor(maxBytes: number) {
    super(`body over ${maxBytes} bytes: not kept`);
  }
}

/** `index-B3x9kQ2a.js`, `app.8f3a2c1d.css`: a name with a content hash (at least one digit in it). */
const HASHED_NAME = /[.-](?=[A-Za-z0-9_]*\d)[A-Za-z0-9_]{8,}\.[a-z0-9]{1,6}$/;

function isApiLike(c: CacheCandidate): boolean {
  const type = (c.headers.get('content-type') ?? '').toLowerCase();
  return (
    c.url.pathname.startsWith('/api/') ||
    type.includes('json') ||
    c.headers.has('set-cookie') ||
    (c.headers.get('vary') ?? '').includes('*')
  );
}

/** A static asset that never changes under its URL: kept and answered from the cache afterwards. */
export function isImmutableAsset(c: CacheCandidate): boolean {
  if (c.method !== 'GET' || c.mode === 'navigate' || c.status !== 200) return false;
  if (!mayKeep(c.headers) || isApiLike(c) || c.url.search !== '') return false;
  return directive(c.headers, 'immutable') || HASHED_NAME.test(c.url.pathname);
}

/** An app document worth keeping as the offline shell of its path. */
export function isShellDocument(c: CacheCandidate): boolean {
  if (c.method !== 'GET' || c.mode !== 'navigate' || c.status !== 200) return false;
  if (!mayKeep(c.headers) || isApiLike(c)) return false;
  return (c.headers.get('content-type') ?? '').toLowerCase().startsWith('text/html');
}

/** The key a document is kept under: its path (the query and fragment ignored). */
export const shellKey = (url: URL) => `${url.origin}${url.pathname}`;

/**
 * Adds the offline marker and banner script to a cached document, before `</head>` if it has one;
 * the script carries `nonce` when the document's Content-Security-Policy needs one.
 */
export function markOffline(html: string, nonce?: string): string {
  const tags = nonce
    ? OFFLINE_TAGS.replace('<script src=', `<script nonce="${nonce}" src=`)
    : OFFLINE_TAGS;
  const at = html.search(/<\/head\s*>/i);
  return at < 0 ? `${tags}${html}` : `${html.slice(0, at)}${tags}${html.slice(at)}`;
}

/**
 * Keeps a copy of `response` under `key` (errors ignored: caching is best effort). The body streams
 * into the cache and is read at most up to `maxBytes`: past that (or when its headers forbid
 * keeping, see `mayKeep`) nothing is stored and the body is cancelled, so a declined copy made with
 * `clone()` does not hold the original's bytes in memory. Further keys get the stored copy.
 */
export async function keep(
  key: string | string[],
  response: Response,
  maxBytes = MAX_KEPT_BYTES,
): Promise<void> {
  const keys = Array.isArray(key) ? key : [key];
  try {
    if (keys.length === 0 || !mayKeep(response.headers, maxBytes)) {
      await response.body?.cancel();
      return;
    }
    const cache = await caches.open(APP_CACHE);
    const [first, ...rest] = keys as [string, ...string[]];
    await cache.put(
      first,
      new Response(response.body?.pipeThrough(byteLimit(maxBytes)) ?? null, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      }),
    );
    for (const k of rest) {
      const stored = await cache.match(first);
      if (stored) await cache.put(k, stored);
    }
    known?.then((set) => {
      for (const k of keys) set.add(k);
    });
  } catch (err) {
    await response.body?.cancel().catch(() => {});
    if (err instanceof BodyTooLargeError) console.info(`[zt] cache: ${keys[0]}: ${err.message}`);
    else console.warn('[zt] cache', err);
  }
}

let known: Promise<Set<string>> | undefined;

/** The cached immutable asset for `url`, if any (a set of keys avoids opening the cache per request). */
export async function cachedAsset(url: string): Promise<Response | undefined> {
  known ??= caches
    .open(APP_CACHE)
    .then(async (cache) => new Set((await cache.keys()).map((r) => r.url)))
    .catch(() => new Set<string>());
  if (!(await known).has(url)) return undefined;
  return (await caches.match(url, { cacheName: APP_CACHE })) ?? undefined;
}

/** The offline version of the document for `url`: its own path's, else the last one seen. */
export async function offlineShell(url: URL): Promise<Response | undefined> {
  try {
    const cache = await caches.open(APP_CACHE);
    const hit =
      (await cache.match(shellKey(url))) ?? (await cache.match(`${url.origin}${LAST_SHELL_KEY}`));
    if (!hit) return undefined;
    const headers = new Headers(hit.headers);
    headers.set('cache-control', 'no-store');
    headers.set(SW_HEADER, 'offline');
    headers.delete('content-length');
    const { nonce } = cspScriptNonce(headers);
    return new Response(markOffline(await hit.text(), nonce), { status: 200, headers });
  } catch {
    return undefined;
  }
}

/** Drops our caches of older layouts (the precache cleans its own). */
export async function dropOldCaches(current: readonly string[]): Promise<void> {
  for (const name of await caches.keys()) {
    if (name.startsWith('zt-') && !current.includes(name)) await caches.delete(name);
  }
}

/** Forgets the in-memory key set (after a logout wiped the caches). */
export function forgetCachedKeys(): void {
  known = undefined;
}
