/**
 * What the service worker keeps of the app, so a reload without network still shows it: the app's
 * immutable static assets as they pass through (cache-first afterwards) and the last HTML document of
 * each path (served only when the tunnel cannot be reached, with an offline banner). Never API
 * responses, never anything marked `no-store`; the bootstrap's logout deletes every cache.
 */

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

const directive = (headers: Headers, name: string) =>
  (headers.get('cache-control') ?? '')
    .toLowerCase()
    .split(',')
    .some((d) => d.trim().split('=')[0] === name);

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
  if (directive(c.headers, 'no-store') || isApiLike(c) || c.url.search !== '') return false;
  return directive(c.headers, 'immutable') || HASHED_NAME.test(c.url.pathname);
}

/** An app document worth keeping as the offline shell of its path. */
export function isShellDocument(c: CacheCandidate): boolean {
  if (c.method !== 'GET' || c.mode !== 'navigate' || c.status !== 200) return false;
  if (directive(c.headers, 'no-store') || isApiLike(c)) return false;
  return (c.headers.get('content-type') ?? '').toLowerCase().startsWith('text/html');
}

/** The key a document is kept under: its path (the query and fragment ignored). */
export const shellKey = (url: URL) => `${url.origin}${url.pathname}`;

/** Adds the offline marker and banner script to a cached document, before `</head>` if it has one. */
export function markOffline(html: string): string {
  const at = html.search(/<\/head\s*>/i);
  return at < 0 ? `${OFFLINE_TAGS}${html}` : `${html.slice(0, at)}${OFFLINE_TAGS}${html.slice(at)}`;
}

/** Keeps a copy of `response` under `key` (errors ignored: caching is best effort). */
export async function keep(key: string | string[], response: Response): Promise<void> {
  try {
    const cache = await caches.open(APP_CACHE);
    const keys = Array.isArray(key) ? key : [key];
    const body = await response.arrayBuffer();
    for (const k of keys) {
      await cache.put(
        k,
        new Response(body, { status: response.status, headers: response.headers }),
      );
    }
    known?.then((set) => {
      for (const k of keys) set.add(k);
    });
  } catch (err) {
    console.warn('[zt] cache', err);
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
    headers.set('x-zt-sw', 'offline');
    headers.delete('content-length');
    return new Response(markOffline(await hit.text()), { status: 200, headers });
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
