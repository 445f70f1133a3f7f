/// <reference lib="webworker" />
import { Cookie } from 'tough-cookie';
import { announceCookies, type DocumentCookieJar } from '../cookie-bridge.ts';

/** The Cookie Store API as Chromium exposes it in service workers (not yet in the TS DOM lib). */
interface CookieStoreLike {
  set(options: {
    name: string;
    value: string;
    path?: string;
    expires?: number | null;
    sameSite?: 'strict' | 'lax' | 'none';
  }): Promise<void>;
  delete(options: { name: string; path?: string }): Promise<void>;
  get(name: string): Promise<{ value: string } | null>;
}

const cookieStore = (): CookieStoreLike | undefined =>
  (globalThis as { cookieStore?: CookieStoreLike }).cookieStore;

let usable: Promise<boolean> | undefined;

/**
 * True where the worker can write the page's cookies itself (Chromium). Firefox exposes
 * `cookieStore` in workers too, but writes there do not reach the page, so this is a real
 * round trip, done once per worker start; elsewhere the shim mirrors the cookies.
 */
export function canMirrorCookies(): Promise<boolean> {
  usable ??= (async () => {
    const store = cookieStore();
    if (!store) return false;
    const name = '__zt_cookie_probe';
    try {
      await store.set({ name, value: '1', path: '/__zt/' });
      const seen = (await store.get(name))?.value === '1';
      await store.delete({ name, path: '/__zt/' });
      return seen;
    } catch {
      return false;
    }
  })();
  return usable;
}

/**
 * Makes the app's non-HttpOnly cookies visible to page script (`document.cookie`), as they would be
 * without the tunnel: the worker's jar stays the source of truth for requests, and HttpOnly cookies
 * never leave it. Browsers ignore Set-Cookie on responses a worker builds, hence this copy.
 */
export async function mirrorToPage(setCookies: readonly string[], now = Date.now()): Promise<void> {
  const store = cookieStore();
  if (!store || !(await canMirrorCookies())) return;
  for (const header of setCookies) {
    const cookie = Cookie.parse(header);
    if (!cookie || cookie.httpOnly) continue;
    const maxAge = typeof cookie.maxAge === 'number' ? cookie.maxAge : undefined;
    const expires =
      maxAge !== undefined
        ? now + maxAge * 1000
        : cookie.expires instanceof Date
          ? cookie.expires.getTime()
          : null;
    const path = cookie.path ?? '/';
    try {
      if (expires !== null && expires <= now) {
        await store.delete({ name: cookie.key, path });
      } else {
        const sameSite = cookie.sameSite?.toLowerCase();
        await store.set({
          name: cookie.key,
          value: cookie.value,
          path,
          expires,
          ...(sameSite === 'strict' || sameSite === 'lax' || sameSite === 'none'
            ? { sameSite }
            : {}),
        });
      }
    } catch {
      // A cookie the browser refuses (e.g. Secure on plain http) stays in the jar only.
    }
  }
}

/**
 * After the jar took cookies from a response: Chromium gets them in its own store before the response
 * is handed over (so a read right after the fetch sees them); elsewhere the shim's mirror is told.
 */
export async function showCookiesToPage(
  setCookies: readonly string[],
  jar: DocumentCookieJar,
  pageUrl: string,
): Promise<void> {
  if (setCookies.length === 0) return;
  if (await canMirrorCookies()) await mirrorToPage(setCookies);
  else await announceCookies(jar, pageUrl);
}
