/**
 * Where the bootstrap flow returns to once the browser is signed in and the service worker runs.
 * Shared by the bootstrap page and the injectable `/__zt/bootstrap.js` (the build inlines it there).
 */
import { RESERVED_PREFIX } from '../shared/version.ts';

/** The query parameter of `/__zt/index.html` that carries the URL to come back to. */
export const RETURN_PARAM = 'return';

/** The bootstrap page under our reserved prefix; `bootstrap.js` sends uncontrolled pages there. */
export const BOOTSTRAP_PAGE = '/__zt/index.html';

/**
 * A return target made safe: only a path of this origin, never one of our own (`/__zt/`); anything
 * else means the app's root. The check is on the result, after full URL resolution, because a path
 * that normalises to `//host/...` (`/.//evil.example`, or a deep link `https://app//evil.example`)
 * is scheme-relative when handed to `location.replace`.
 */
export function safeReturnPath(raw: string | null, origin: string): string {
  if (!raw?.startsWith('/')) return '/';
  let url: URL;
  try {
    url = new URL(raw, origin);
  } catch {
    return '/';
  }
  if (url.origin !== origin || url.pathname.startsWith(RESERVED_PREFIX)) return '/';
  const path = `${url.pathname}${url.search}${url.hash}`;
  // Same origin once more, read the way the caller will read it: as a reference to resolve.
  if (/^[/\\]{2}/.test(path) || new URL(path, origin).origin !== origin) return '/';
  return path;
}

/**
 * Where to go after login: the URL first asked for. On the bootstrap's own paths that is the
 * validated `?return=` target (set by `bootstrap.js`), otherwise the app's root.
 */
export function requestedPath(url: URL): string {
  if (url.pathname.startsWith(RESERVED_PREFIX)) {
    return safeReturnPath(url.searchParams.get(RETURN_PARAM), url.origin);
  }
  return safeReturnPath(`${url.pathname}${url.search}${url.hash}`, url.origin);
}

/** The bootstrap page's URL that brings the browser back to `location` afterwards. */
export function bootstrapUrlFor(location: {
  pathname: string;
  search: string;
  hash: string;
}): string {
  const back = `${location.pathname}${location.search}${location.hash}`;
  return `${BOOTSTRAP_PAGE}?${RETURN_PARAM}=${encodeURIComponent(back)}`;
}
