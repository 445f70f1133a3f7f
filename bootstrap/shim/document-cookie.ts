/**
 * `document.cookie` backed by the service worker's cookie jar (browsers without `cookieStore` in
 * the SW). Design: sw/cookie-bridge.ts; messages: shared/page-worker/. The getter is synchronous: it reads a mirror
 * that starts from the snapshot the SW put in front of this script and follows the SW's updates;
 * cookies the browser itself holds for the page are shown too (the mirror wins on a name clash).
 * A write updates the mirror at once (so a read right after sees it) and goes to the jar.
 */
import { type CookieBridgeRequest, isCookieUpdate } from '../../shared/page-worker/messages.ts';
import { COOKIE_CHANNEL, COOKIE_GET, COOKIE_SET } from '../../shared/page-worker/names.ts';

export interface InstallDocumentCookieOptions {
  /** The initial `document.cookie` from the SW's snapshot. */
  initial: string;
  /** Sends a request to the service worker (its `zt/cookie-update` answer arrives on COOKIE_CHANNEL). */
  send(req: CookieBridgeRequest): void;
}

type Win = Window & typeof globalThis;

/** The longest delay setTimeout keeps (a longer one fires at once); a later expiry is asked for again. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function parse(cookie: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of cookie.split(';')) {
    const s = part.trim();
    if (!s) continue;
    const eq = s.indexOf('=');
    // A cookie without '=' has an empty name (RFC 6265bis), shown as just its value.
    if (eq < 0) m.set('', s);
    else m.set(s.slice(0, eq).trim(), s.slice(eq + 1).trim());
  }
  return m;
}

const serialise = (m: Map<string, string>) =>
  [...m].map(([n, v]) => (n === '' ? v : `${n}=${v}`)).join('; ');

/** The mirror's view of a write: set, delete (expired / Max-Age <= 0) or ignore (HttpOnly). */
function applyWrite(mirror: Map<string, string>, write: string, now: number): void {
  const [pair = '', ...attrs] = write.split(';');
  const eq = pair.indexOf('=');
  const name = eq < 0 ? '' : pair.slice(0, eq).trim();
  const value = eq < 0 ? pair.trim() : pair.slice(eq + 1).trim();
  let expired = false;
  for (const a of attrs) {
    const [k = '', v = ''] = a.split('=').map((x) => x.trim());
    const key = k.toLowerCase();
    if (key === 'httponly') return;
    if (key === 'max-age' && /^-?\d+$/.test(v)) expired = Number(v) <= 0;
    if (key === 'expires') {
      const t = Date.parse(v);
      if (!Number.isNaN(t)) expired = t <= now;
    }
  }
  if (expired) mirror.delete(name);
  else mirror.set(name, value);
}

export function installDocumentCookie(win: Win, options: InstallDocumentCookieOptions): void {
  const doc = win.document;
  const native = Object.getOwnPropertyDescriptor(win.Document.prototype, 'cookie');
  let mirror = parse(options.initial);
  const nativeCookies = () => {
    try {
      return parse((native?.get?.call(doc) as string | undefined) ?? '');
    } catch {
      return new Map<string, string>();
    }
  };

  Object.defineProperty(doc, 'cookie', {
    configurable: true,
    enumerable: true,
    get() {
      const all = nativeCookies();
      for (const [n, v] of mirror) all.set(n, v);
      return serialise(all);
    },
    set(value: unknown) {
      const s = String(value);
      applyWrite(mirror, s, Date.now());
      options.send({ type: COOKIE_SET, url: win.location.href, cookie: s });
    },
  });

  const updates = new win.BroadcastChannel(COOKIE_CHANNEL);
  let asked = false;
  // Asks for the page's cookies again when the first of them expires (the jar drops it then).
  let expiry: ReturnType<typeof setTimeout> | undefined;
  const askAt = (expires: number | undefined) => {
    clearTimeout(expiry);
    expiry = undefined;
    if (expires === undefined) return;
    const wait = Math.min(Math.max(0, expires - Date.now()) + 1, MAX_TIMER_MS);
    expiry = setTimeout(() => {
      expiry = undefined;
      options.send({ type: COOKIE_GET, url: win.location.href });
    }, wait);
  };
  updates.onmessage = (e: MessageEvent) => {
    const m: unknown = e.data;
    if (!isCookieUpdate(m)) return;
    if (m.url === win.location.href) {
      mirror = parse(m.cookie);
      asked = false;
      askAt(m.expires);
    } else if (!asked) {
      // Another page's change may concern this page's cookies too (paths differ): ask for ours.
      asked = true;
      options.send({ type: COOKIE_GET, url: win.location.href });
    }
  };
}
