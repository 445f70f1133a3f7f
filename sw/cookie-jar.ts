import type { Cookie, CookieJar as ToughCookieJar } from 'tough-cookie';
import { loadToughCookie, toughCookie } from './tough-cookie.ts';

/** Where the jar persists itself (the lead backs it with IndexedDB through idb-keyval). */
export interface CookieJarStore {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
}

export interface CookieJarOptions {
  /** Key under which the jar is stored. */
  storeKey?: string;
}

/** `sameSiteContext` of a request (RFC 6265bis §5.2): undefined sends SameSite cookies as same-site. */
export type SameSiteContext = 'strict' | 'lax' | 'none';

export const COOKIE_JAR_KEY = 'zt-cookie-jar';

/**
 * The app's cookies, kept by the service worker as a browser would (RFC 6265, via tough-cookie,
 * which runs on Web APIs only: its one dependency, tldts, is plain code). `HttpOnly` cookies go on
 * tunnelled requests but never to page script; the page sees the others through
 * `documentCookie()` and writes through `setFromDocument()`. Secure cookies work on
 * http://localhost, which is potentially trustworthy, as in browsers.
 * Every change is persisted before the call resolves; changes are serialised so the store always
 * ends up with the latest jar.
 */
export class CookieJar {
  readonly #jar: ToughCookieJar;
  readonly #store: CookieJarStore;
  readonly #key: string;
  #saving: Promise<void> = Promise.resolve();

  private constructor(jar: ToughCookieJar, store: CookieJarStore, options: CookieJarOptions) {
    this.#jar = jar;
    this.#store = store;
    this.#key = options.storeKey ?? COOKIE_JAR_KEY;
  }

  /** Loads the jar from the store (empty if none, or if what is stored cannot be read). */
  static async open(store: CookieJarStore, options: CookieJarOptions = {}): Promise<CookieJar> {
    const [saved, { Cookie }] = await Promise.all([
      store.get(options.storeKey ?? COOKIE_JAR_KEY),
      loadToughCookie(),
    ]);
    const jar = newJar();
    // Cookies are loaded into a jar built with our options (a serialized jar does not keep them
    // all). A corrupt entry is dropped rather than blocking the app.
    let cookies: unknown[] = [];
    try {
      const parsed =
        typeof saved === 'string' ? (JSON.parse(saved) as { cookies?: unknown }) : null;
      if (parsed && Array.isArray(parsed.cookies)) cookies = parsed.cookies;
    } catch {
      cookies = [];
    }
    for (const c of cookies) {
      const cookie = Cookie.fromJSON(c);
      if (cookie) await jar.store.putCookie(cookie);
    }
    return new CookieJar(jar, store, options);
  }

  /** Stores the `Set-Cookie` fields of a response for `url` (HTTP API: HttpOnly allowed). */
  async setFromResponse(url: string, setCookies: readonly string[]): Promise<void> {
    if (setCookies.length === 0) return;
    const now = new Date();
    for (const header of setCookies) {
      const cookie = parseCookie(header, now);
      // A bad cookie is ignored, as browsers do; it must not fail the response.
      if (cookie) await this.#jar.setCookie(cookie, url, { http: true, ignoreError: true, now });
    }
    await this.#persist();
  }

  /** The `Cookie` field value for a request to `url` (HttpOnly included), or '' if none. */
  async cookieHeader(url: string, sameSiteContext?: SameSiteContext): Promise<string> {
    const cookies = await this.#jar.getCookies(url, {
      http: true,
      ...(sameSiteContext ? { sameSiteContext } : {}),
    });
    return serialise(cookies);
  }

  /** What `document.cookie` shows on a page at `url`: the non-HttpOnly cookies. */
  async documentCookie(url: string): Promise<string> {
    const cookies = await this.#jar.getCookies(url, {
      http: false,
    });
    return serialise(cookies);
  }

  /**
   * When the first of the cookies `document.cookie` shows at `url` expires (ms since the epoch),
   * or undefined when none has an expiry (session cookies).
   */
  async documentCookieExpiry(url: string): Promise<number | undefined> {
    const cookies = await this.#jar.getCookies(url, { http: false });
    let first: number | undefined;
    for (const c of cookies) {
      const at = c.expires instanceof Date ? c.expires.getTime() : Number.NaN;
      if (Number.isFinite(at) && (first === undefined || at < first)) first = at;
    }
    return first;
  }

  /**
   * Applies a `document.cookie = "..."` write from a page at `url`. As in browsers, an HttpOnly
   * attribute makes the write ignored, and an existing HttpOnly cookie cannot be replaced.
   * Returns whether the cookie was stored (or deleted).
   */
  async setFromDocument(url: string, cookieString: string): Promise<boolean> {
    const now = new Date();
    const cookie = parseCookie(cookieString, now);
    if (!cookie) return false;
    const stored = await this.#jar.setCookie(cookie, url, { http: false, ignoreError: true, now });
    if (stored) await this.#persist();
    return stored !== undefined;
  }

  /** Removes every cookie (logout). */
  async clear(): Promise<void> {
    await this.#jar.removeAllCookies();
    await this.#persist();
  }

  #persist(): Promise<void> {
    const snapshot = JSON.stringify(this.#jar.serializeSync());
    const next = this.#saving.then(() => this.#store.set(this.#key, snapshot));
    // A failed save must not wedge later ones; the caller still sees its own failure.
    this.#saving = next.catch(() => {});
    return next;
  }
}

/**
 * Parses a cookie and turns Max-Age into an absolute expiry. RFC 6265 §5.2.2 counts Max-Age from
 * when the cookie is received, but tough-cookie counts it from the last access, so a cookie read
 * often would never expire.
 */
function parseCookie(text: string, now: Date): Cookie | undefined {
  const cookie = toughCookie().Cookie.parse(text);
  if (!cookie) return undefined;
  if (typeof cookie.maxAge === 'number') {
    cookie.expires = new Date(cookie.maxAge <= 0 ? 0 : now.getTime() + cookie.maxAge * 1000);
    cookie.maxAge = null;
  }
  return cookie;
}

/** RFC 6265 §5.4 step 2: longer paths first, then older cookies first. */
function serialise(cookies: Cookie[]): string {
  return cookies
    .sort(toughCookie().cookieCompare)
    .map((c) => c.cookieString())
    .join('; ');
}

function newJar(): ToughCookieJar {
  return new (toughCookie().CookieJar)(undefined, {
    rejectPublicSuffixes: true,
    prefixSecurity: 'strict',
    allowSecureOnLocal: true,
    enforceSecureOriginOnStorage: true,
  });
}
