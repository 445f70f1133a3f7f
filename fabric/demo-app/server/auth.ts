import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, parseCookies, serializeCookie, sessionExpired } from './http.ts';
import type { DemoStore, Session } from './store.ts';

export const COOKIE_TOKEN = 'MMAUTHTOKEN';
export const COOKIE_USER = 'MMUSERID';
export const COOKIE_CSRF = 'MMCSRF';
export const HEADER_CSRF = 'x-csrf-token';
export const HEADER_REQUESTED_WITH = 'x-requested-with';
export const REQUESTED_WITH_XML = 'XMLHttpRequest';

export type TokenLocation = 'cookie' | 'header' | 'query' | 'none';

/**
 * Where the session token comes from, in Mattermost's order (app.ParseAuthTokenFromRequest): the
 * MMAUTHTOKEN cookie, then `Authorization: BEARER <t>` (or `TOKEN <t>`), then `?access_token=`.
 * A cookie wins even when a header is present, which is why cookie requests are CSRF-checked.
 */
export function parseAuthToken(
  req: IncomingMessage,
  url: URL,
): { token: string; location: TokenLocation } {
  const cookie = parseCookies(req.headers.cookie).get(COOKIE_TOKEN);
  if (cookie) return { token: cookie, location: 'cookie' };
  const auth = req.headers.authorization ?? '';
  if (auth.length > 6 && auth.slice(0, 6).toUpperCase() === 'BEARER') {
    return { token: auth.slice(7), location: 'header' };
  }
  if (auth.length > 5 && auth.slice(0, 5).toLowerCase() === 'token') {
    return { token: auth.slice(6), location: 'header' };
  }
  const query = url.searchParams.get('access_token');
  if (query) return { token: query, location: 'query' };
  return { token: '', location: 'none' };
}

/** Whether the request came over https, directly or as told by a proxy (app.GetProtocol). */
export function isSecureRequest(req: IncomingMessage): boolean {
  return (
    req.headers['x-forwarded-proto'] === 'https' ||
    Boolean((req.socket as { encrypted?: boolean }).encrypted)
  );
}

/** The three session cookies (app.AttachSessionCookies). */
export function sessionCookies(req: IncomingMessage, session: Session, maxAge: number): string[] {
  const secure = isSecureRequest(req);
  return [
    serializeCookie({ name: COOKIE_TOKEN, value: session.token, maxAge, httpOnly: true, secure }),
    serializeCookie({ name: COOKIE_USER, value: session.userId, maxAge, secure }),
    serializeCookie({ name: COOKIE_CSRF, value: session.csrf, maxAge, secure }),
  ];
}

/**
 * The cookie that expires the session cookie (Context.RemoveSessionCookie): only `MMAUTHTOKEN`,
 * never `Secure`; `MMUSERID` and `MMCSRF` stay. Sent on logout, for an unknown token on a route
 * that needs a session, and with a refused CSRF check.
 */
export const EXPIRED_TOKEN_COOKIE = serializeCookie({
  name: COOKIE_TOKEN,
  value: '',
  maxAge: -1,
  httpOnly: true,
});

export interface AuthResult {
  session?: Session;
  token: string;
  location: TokenLocation;
}

/**
 * Resolves the request's session and checks CSRF as web/handlers.go does: a cookie-authenticated
 * request other than GET must carry `X-CSRF-Token` equal to the session's CSRF token; without it,
 * `X-Requested-With: XMLHttpRequest` is enough unless `strictCsrf`
 * (ServiceSettings.ExperimentalStrictCSRFEnforcement). A refused check is a 401 that expires the
 * MMAUTHTOKEN cookie (the session itself stays valid). A presented but unknown token fails with 401
 * and expires the cookie when the route requires a session.
 */
export function authenticate(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  store: DemoStore,
  requireSession: boolean,
  strictCsrf: boolean,
): AuthResult {
  const { token, location } = parseAuthToken(req, url);
  if (!token) {
    if (requireSession) throw sessionExpired();
    return { token, location };
  }
  const session = store.session(token);
  if (!session) {
    if (requireSession) {
      res.setHeader('Set-Cookie', EXPIRED_TOKEN_COOKIE);
      throw sessionExpired('token is invalid or expired');
    }
    return { token, location };
  }
  if (location === 'cookie' && req.method !== 'GET') {
    const passed =
      req.headers[HEADER_CSRF] === session.csrf ||
      (!strictCsrf && req.headers[HEADER_REQUESTED_WITH] === REQUESTED_WITH_XML);
    if (!passed) {
      res.setHeader('Set-Cookie', EXPIRED_TOKEN_COOKIE);
      throw new AppError(
        'api.context.session_expired.app_error',
        'Invalid or expired session, please login again.',
        401,
        'Appears to be a CSRF attempt',
      );
    }
  }
  return { session, token, location };
}
