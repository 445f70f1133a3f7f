/**
 * HTTP authentication inside the tunnel (Basic, RFC 7617). A browser answers a `401` with
 * `WWW-Authenticate: Basic` in its network layer: it asks the person, retries, and from then on
 * sends the credentials itself. A tunnelled request never reaches that layer, so the worker does it:
 * this module decides, `tunnel/fetch-handler.ts` carries out, and the sign-in page
 * (`http-auth-page.ts`) asks.
 *
 * Credentials live only here, in the worker's memory, per origin and realm: never in IndexedDB,
 * Cache Storage or anything page script could read back, and never sent anywhere but to the app
 * over the tunnel. They go once the worker stops (browsers stop idle workers), at sign-out and when
 * another identity signs in.
 *
 * Digest is not implemented: a Digest-only challenge is passed to the page as the app sent it.
 */

/** One challenge of a `WWW-Authenticate` field (RFC 9110 §11.6.1, §11.2). */
export interface Challenge {
  /** As sent; compare case-insensitively. */
  scheme: string;
  /** Parameter names lowercased (they are case-insensitive); the first of repeated names wins. */
  params: Record<string, string>;
  token68?: string;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/;

/**
 * Every challenge in the `WWW-Authenticate` field values (repeated fields may be given separately or
 * joined by commas). `challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`, where a comma
 * separates both parameters and challenges: after a comma, `name = value` continues the current
 * challenge and anything else starts the next. Malformed parts are skipped, never thrown on.
 */
export function parseChallenges(values: string | readonly string[]): Challenge[] {
  const out: Challenge[] = [];
  for (const value of typeof values === 'string' ? [values] : values) parseInto(value, out);
  return out;
}

function parseInto(s: string, out: Challenge[]): void {
  const n = s.length;
  let i = 0;
  const ws = () => {
    const start = i;
    while (i < n && (s[i] === ' ' || s[i] === '\t')) i++;
    return i > start;
  };
  const token = () => {
    const start = i;
    while (i < n && TCHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const quoted = (): string | undefined => {
    i++; // the opening quote
    let v = '';
    while (i < n) {
      const c = s[i++]!;
      if (c === '"') return v;
      if (c === '\\' && i < n) v += s[i++]!;
      else v += c;
    }
    return undefined; // unterminated
  };
  /** `name BWS = BWS ( token / quoted-string )` at i, or undefined with i unchanged. */
  const param = (): [string, string] | undefined => {
    const start = i;
    const name = token();
    ws();
    if (!name || s[i] !== '=') {
      i = start;
      return undefined;
    }
    i++;
    ws();
    const v = s[i] === '"' ? quoted() : token() || undefined;
    if (v === undefined) {
      i = start;
      return undefined;
    }
    return [name.toLowerCase(), v];
  };
  const skipToComma = () => {
    while (i < n && s[i] !== ',') {
      if (s[i] === '"') quoted();
      else i++;
    }
  };
  while (i < n) {
    while (i < n && (s[i] === ',' || s[i] === ' ' || s[i] === '\t')) i++;
    if (i >= n) break;
    const scheme = token();
    if (!scheme) {
      skipToComma();
      continue;
    }
    const challenge: Challenge = { scheme, params: {} };
    out.push(challenge);
    if (!ws() || i >= n || s[i] === ',') continue;
    const first = param();
    if (!first) {
      const t68 = TOKEN68.exec(s.slice(i));
      if (t68) {
        i += t68[0].length;
        ws();
        if (i >= n || s[i] === ',') {
          challenge.token68 = t68[0];
          continue;
        }
      }
      skipToComma();
      continue;
    }
    const add = ([k, v]: [string, string]) => {
      if (!(k in challenge.params)) challenge.params[k] = v;
    };
    add(first);
    for (;;) {
      ws();
      if (i >= n) break;
      if (s[i] !== ',') {
        skipToComma();
        continue;
      }
      const comma = i;
      while (i < n && (s[i] === ',' || s[i] === ' ' || s[i] === '\t')) i++;
      const next = param();
      if (!next) {
        i = comma; // the next challenge starts after this comma
        break;
      }
      add(next);
    }
  }
}

/** The realm of the first Basic challenge ('' when it names none), or undefined for no Basic one. */
export function basicRealm(values: string | readonly string[]): string | undefined {
  const basic = parseChallenges(values).find((c) => c.scheme.toLowerCase() === 'basic');
  return basic ? (basic.params.realm ?? '') : undefined;
}

/**
 * The path prefix RFC 7617 §2.2 lets a client assume shares the protection space of a URL that was
 * challenged: everything at or below its last `/` (`/basic/page` gives `/basic/`).
 */
export function protectionPrefix(url: URL): string {
  return url.pathname.slice(0, url.pathname.lastIndexOf('/') + 1) || '/';
}

/** `Basic <base64(user:password)>`, UTF-8 as RFC 7617 §2.1 `charset="UTF-8"` and browsers use. */
export function basicAuthorization(user: string, password: string): string {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}

/** RFC 7617 §2: the user-id cannot contain a colon; neither may contain control characters. */
export function credentialProblem(user: string, password: string): string | undefined {
  if (user.includes(':')) return 'the user name cannot contain a colon';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(user + password)) return 'control characters are not allowed';
  return undefined;
}

/** Credentials for one protection space: an origin and a realm. */
export interface HttpCredentials {
  readonly origin: string;
  readonly realm: string;
  readonly authorization: string;
  /** Path prefixes they are sent to without being asked (RFC 7617 §2.2). */
  readonly prefixes: Set<string>;
  /** The app has answered a request that carried them with something other than 401. */
  accepted: boolean;
}

/** At most this many protection spaces are kept; the oldest goes first. */
const MAX_SPACES = 64;

/** The worker's credentials, in memory only (see the module comment). */
export class HttpAuthStore {
  readonly #spaces = new Map<string, HttpCredentials>();

  static #key = (origin: string, realm: string) => `${origin} ${realm}`;

  /** What the person entered on the sign-in page for `url`'s origin and `realm`. */
  signIn(url: URL, realm: string, user: string, password: string): HttpCredentials {
    const key = HttpAuthStore.#key(url.origin, realm);
    this.#spaces.delete(key);
    if (this.#spaces.size >= MAX_SPACES)
      this.#spaces.delete(this.#spaces.keys().next().value as string);
    const entry: HttpCredentials = {
      origin: url.origin,
      realm,
      authorization: basicAuthorization(user, password),
      prefixes: new Set([protectionPrefix(url)]),
      accepted: false,
    };
    this.#spaces.set(key, entry);
    return entry;
  }

  /** Credentials to send with a request to `url` before any challenge: the longest prefix match. */
  forUrl(url: URL): HttpCredentials | undefined {
    let best: HttpCredentials | undefined;
    let bestLength = -1;
    for (const entry of this.#spaces.values()) {
      if (entry.origin !== url.origin) continue;
      for (const prefix of entry.prefixes)
        if (url.pathname.startsWith(prefix) && prefix.length > bestLength) {
          best = entry;
          bestLength = prefix.length;
        }
    }
    return best;
  }

  /** Credentials for a realm of an origin, wherever they were entered. */
  forRealm(origin: string, realm: string): HttpCredentials | undefined {
    return this.#spaces.get(HttpAuthStore.#key(origin, realm));
  }

  forget(entry: HttpCredentials): void {
    const key = HttpAuthStore.#key(entry.origin, entry.realm);
    if (this.#spaces.get(key) === entry) this.#spaces.delete(key);
  }

  clear(): void {
    this.#spaces.clear();
  }

  get size(): number {
    return this.#spaces.size;
  }
}

/** What a request may carry: nothing of ours when the page set Authorization or omits credentials. */
export function credentialsToAttach(
  store: HttpAuthStore,
  request: { url: URL; pageAuthorization: boolean; omitCredentials: boolean },
): HttpCredentials | undefined {
  if (request.pageAuthorization || request.omitCredentials) return undefined;
  return store.forUrl(request.url);
}

/** What to do with an answer, for `tunnel/fetch-handler.ts`. */
export type AuthOutcome =
  /** Hand the answer to the browser as it is. */
  | { kind: 'pass' }
  /** Send the request once more with these (the realm's credentials, entered for another path). */
  | { kind: 'retry'; credentials: HttpCredentials }
  /** A navigation: show our sign-in page for this realm (`failed`: what was entered was refused). */
  | { kind: 'sign-in'; realm: string; failed: boolean };

export interface AnswerFacts {
  url: URL;
  status: number;
  /** The answer's `WWW-Authenticate` field values. */
  challenges: readonly string[];
  /** What the request carried from the store, if anything. */
  sent: HttpCredentials | undefined;
  navigation: boolean;
  /** The request may be sent again (no body, not already a retry, credentials not omitted). */
  mayRetry: boolean;
  /** Our credentials may be used at all (the page set no Authorization, credentials not omitted). */
  mayAuthenticate: boolean;
}

/**
 * Decides after an answer, and updates the store:
 * - not 401 after sending credentials: they work; their protection space grows by this URL's prefix.
 * - 401 after sending credentials: the app refused them (a wrong password, or its logout URL), so
 *   they are forgotten; a navigation that has never got past the challenge with them asks again,
 *   saying they were refused; otherwise (a logout page) the app's answer is shown.
 * - 401 with a Basic challenge, nothing sent: the realm's credentials from another path are tried
 *   once (subresources reuse what a navigation obtained); without any, a navigation asks, and a
 *   subresource gets the 401 as it is (no page for it).
 */
export function onAnswer(store: HttpAuthStore, a: AnswerFacts): AuthOutcome {
  if (a.status !== 401) {
    if (a.sent) {
      a.sent.accepted = true;
      a.sent.prefixes.add(protectionPrefix(a.url));
    }
    return { kind: 'pass' };
  }
  if (!a.mayAuthenticate) return { kind: 'pass' };
  const realm = basicRealm(a.challenges);
  if (a.sent) {
    store.forget(a.sent);
    return a.navigation && !a.sent.accepted && realm !== undefined
      ? { kind: 'sign-in', realm, failed: true }
      : { kind: 'pass' };
  }
  if (realm === undefined) return { kind: 'pass' };
  const known = store.forRealm(a.url.origin, realm);
  if (known && a.mayRetry) return { kind: 'retry', credentials: known };
  return a.navigation ? { kind: 'sign-in', realm, failed: false } : { kind: 'pass' };
}
