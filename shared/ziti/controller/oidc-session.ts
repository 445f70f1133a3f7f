/**
 * OIDC API sessions (reference §1.5): the controller's own OpenID provider at `/oidc`, logged in to
 * with the company IdP's JWT (ext-jwt), giving an access token (a JWT: REST `Authorization: Bearer`,
 * the router hello's session token) and a refresh token. Web APIs only (`fetch`, `URL`,
 * `crypto.subtle`, `atob`): the same code runs in a service worker and in Node 20.
 *
 * The flow is built around what a browser may see. A cross-origin `fetch` cannot read a 302's
 * `Location`, so nothing here does: every step follows the redirects and reads `response.url`.
 *
 * 1. `GET /oidc/authorize?client_id=openziti&response_type=code&scope=openid offline_access&state&
 *    nonce&code_challenge&code_challenge_method=S256&redirect_uri&method=ext-jwt` answers 302 to
 *    `/oidc/login/ext-jwt?authRequestID=<id>` (relative), and that page answers 200 "please POST to
 *    this URL" with an `auth-request-id` header that CORS does not expose; the followed fetch's
 *    `response.url` carries the id. `method=ext-jwt` picks that page (without it the controller
 *    sends a browser to `/oidc/login/username`, an HTML password form); `Accept` plays no part in
 *    authorize. (ziti v1.7.2 `controller/oidc_auth/provider.go newLoginResolver`, `login.go
 *    genericHandler`; zitadel/oidc v3.45 `op/auth_request.go Authorize`, `RedirectToLogin`.)
 * 2. `POST /oidc/login/ext-jwt` with `Authorization: Bearer <IdP JWT>`, `Accept: application/json`
 *    and a JSON body `{id, configTypes}` (form or JSON only, else 415 `UNSUPPORTED_MEDIA_TYPE`:
 *    `negotiate.go negotiateBodyContentType`; the id may also come from `?authRequestID=`:
 *    `parse.go parsePayload`). Success is 302 to the absolute
 *    `https://<host>/oidc/authorize/callback?id=<id>` on the controller's own origin, which 302s to
 *    `redirect_uri?code=<code>&state=<state>`; the followed fetch ends at the redirect URI, whose
 *    answer must pass CORS for `response.url` to be readable (a browser sends `Origin: null` there:
 *    the redirect crossed origins). A refused IdP token is 401 text/plain "The authentication
 *    request failed" (`login.go authenticate`). Pending MFA is 200 `{"authQueries": [...]}` (JSON
 *    because we ask for it; HTML otherwise), with `totp-required: true` (`login.go`,
 *    `negotiate.go negotiateResponseContentType`): this client cannot answer those and says so.
 * 3. `POST /oidc/oauth/token` (form) `grant_type=authorization_code`, `client_id`, `code`,
 *    `code_verifier`, `redirect_uri` answers `{access_token, token_type: "Bearer", refresh_token,
 *    expires_in, id_token, scope}`. The code works once (the auth request is deleted); a public
 *    client must have sent a PKCE challenge, the verifier must match and `redirect_uri` must be the
 *    authorize one. Errors are RFC 6749 JSON `{error, error_description}`, 400 (401 for
 *    `invalid_client`) (zitadel `op/token_code.go`, `op/token_request.go AuthorizeCodeChallenge`,
 *    `op/error.go RequestError`, `op/token.go CreateTokenResponse`).
 * 4. Refresh: the same endpoint with `grant_type=refresh_token`, `client_id`, `refresh_token`.
 *    The new access token keeps `z_asid` (ziti `storage.go createAccessToken`, `RefreshTokenRequest`
 *    case) and a new refresh token is issued each time (`renewRefreshToken`).
 *
 * CORS, checked against the running v1.7.2 controller: two layers answer on `/oidc`. The outer
 * one (`controller/api/cors.go`, gorilla/handlers v1.5.2 `cors.go`) answers every preflight (200;
 * allows `content-type, accept, authorization, zt-session`, 403 for any other header) and puts
 * `Access-Control-Allow-Origin: *` beside `Access-Control-Allow-Credentials: true` on every
 * answer to a request with an `Origin`; that is all `/oidc/login/*` gets, its 302 included. The
 * OpenID provider's own routes (`/oidc/authorize`, `/oidc/authorize/callback`, `/oidc/oauth/token`;
 * zitadel/oidc `op`'s CORS) then echo the `Origin`, the opaque `null` too, and expose `Location,
 * Content-Length`. So a default (not credentialed) fetch passes every hop, and a
 * `credentials: 'include'` one fails at the login's `*`. The hop from the controller to the
 * redirect URI crosses origins: a browser sends `Origin: null` there, and the redirect URI's own
 * answer must allow it (`*`). The login POST carries `Authorization`, so it is preflighted, and
 * the Fetch rules turn its 302s into GETs without the body (and the current Fetch standard drops
 * `Authorization` when a redirect leaves the controller's origin).
 *
 * Found by running it, not in the sources above: the controller's web server (xweb v2.3.4
 * `middleware/compression.go handleBr`) answers 200 to every request whose `Accept-Encoding` puts
 * `br` first (Node's fetch does), for redirects and errors alike; browsers put gzip first and get
 * the true status. An OIDC session is not a stored API session: `DELETE /current-api-session` with
 * an access token is 404 and the tokens keep working. A refresh token works once (the second use
 * is 400 `server_error`, "revocation already exists"). PKCE is enforced only at the token
 * endpoint: authorize accepts a request without a challenge, and the exchange then fails.
 *
 * Redirect URIs: the `edge-oidc` binding's `redirectURIs` option (`controller/webapis/oidc-api.go`),
 * matched exactly or as globs; when it is empty the controller allows `openziti://auth/callback`
 * and `/auth/callback` on any port of http(s) 127.0.0.1 and localhost. The client is "native"
 * (zitadel `op/auth_request.go validateAuthReqRedirectURINative`): a listed `https` URI is allowed, a listed
 * `http` one only on loopback; a loopback URI also matches a listed loopback URI with the same path
 * on any port. A refused redirect URI or client id is a 400 text/plain answer at authorize.
 *
 * Lifetimes: `edge.oidc.accessTokenDuration` (default 30m, minimum 1m) and `refreshTokenDuration`
 * (default 24h) in the controller config (`controller/config/config_edge.go loadOidcSection`; in
 * v1.7.2 setting `refreshTokenDuration` or `idTokenDuration` overwrites the access-token duration
 * instead, so leave them unset there).
 */
import { ZitiControllerUnreachableError, ZitiError } from '../errors.ts';

/** The controller's OIDC client id (`common/oidc_tokens.go ClaimClientIdOpenZiti`). */
export const OIDC_CLIENT_ID = 'openziti';
/** What we ask for: an ID token and a refresh token. */
export const OIDC_SCOPE = 'openid offline_access';
/** The OIDC API's base path on the controller (`controller/webapis/versions.go`). */
export const OIDC_PATH = '/oidc';

/** What exactly went wrong in the OIDC login or refresh. */
export type OidcFault =
  /** `/oidc/authorize` refused the request (unknown client, redirect URI not allowed, ...). */
  | 'authorize-refused'
  /** The authorize redirects did not end at `/oidc/login/ext-jwt?authRequestID=`. */
  | 'no-auth-request'
  /** `/oidc/login/ext-jwt` refused the IdP token. */
  | 'login-refused'
  /** The login needs a second factor (TOTP / another signer's token) this client cannot give. */
  | 'auth-queries'
  /** The login redirects did not end at the redirect URI with a code. */
  | 'no-code'
  /** The redirect URI came back with a `state` other than the one sent. */
  | 'state-mismatch'
  /** The token endpoint answered an RFC 6749 error (bad code, verifier, refresh token, ...). */
  | 'token-refused'
  /** The token endpoint's answer is not the documented shape. */
  | 'bad-token-response'
  /** A refresh gave a token for another API session or identity. */
  | 'session-changed';

/** The OIDC login or refresh failed; `fault` says where, `oauthError` carries the RFC 6749 code. */
export class ZitiOidcError extends ZitiError {
  override readonly code = 'ERR_ZITI_OIDC';
  readonly fault: OidcFault;
  /** HTTP status of the answer that failed, when there was one. */
  readonly status: number | undefined;
  /** `error` of an RFC 6749 error answer (`invalid_grant`, ...), or `error` of the redirect. */
  readonly oauthError: string | undefined;
  constructor(
    fault: OidcFault,
    message: string,
    extra: { status?: number; oauthError?: string; cause?: unknown } = {},
  ) {
    super('ERR_ZITI_OIDC', message, { cause: extra.cause });
    this.fault = fault;
    this.status = extra.status;
    this.oauthError = extra.oauthError;
  }
}

/** `fetch` or anything with its signature (a test double, a fetch bound to a TLS agent). */
export type FetchLike = (input: Request) => Promise<Response>;

/** An OIDC API session. */
export interface OidcSession {
  /** The access JWT: `Authorization: Bearer` on REST calls and the router hello's token. */
  accessToken: string;
  refreshToken: string;
  idToken?: string;
  /** When the access token expires (its `exp`). */
  expiresAt: Date;
  /** `z_asid`: the API session, the same across refreshes. */
  apiSessionId: string;
  /** `sub`: the identity. */
  identityId: string;
}

/** Claims of a controller access token this client relies on (`common/oidc_tokens.go`). */
export interface AccessClaims {
  sub: string;
  z_asid: string;
  z_t: string;
  exp: number;
  aud: string[];
  [claim: string]: unknown;
}

export interface OidcLoginOptions {
  /** The controller's base URL, e.g. `https://ctrl.example.com:1280`. */
  controller: string | URL;
  fetch: FetchLike;
  /** The company IdP's token the controller's ext-jwt signer accepts. */
  idpToken: string;
  /**
   * Where the controller sends the code: one of the `edge-oidc` binding's `redirectURIs`, and an
   * answer a cross-origin fetch may read (`Access-Control-Allow-Origin: *`).
   */
  redirectUri: string;
  /** Config types the API session should carry (e.g. `intercept.v1`). */
  configTypes?: string[];
}

export interface OidcRefreshOptions {
  controller: string | URL;
  fetch: FetchLike;
  session: OidcSession;
}

function oidcUrl(controller: string | URL, path: string): URL {
  const url = new URL(controller);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${OIDC_PATH}${path}`;
  url.search = '';
  url.hash = '';
  return url;
}

function base64Url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomToken(bytes = 32): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** A PKCE pair (RFC 7636): a 43-character verifier and its S256 challenge. */
export async function createPkce(): Promise<{ verifier: string; challenge: string }> {
  const verifier = randomToken(32);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return { verifier, challenge: base64Url(new Uint8Array(digest)) };
}

export interface AuthorizeParams {
  redirectUri: string;
  state: string;
  nonce: string;
  codeChallenge: string;
}

/** The `/oidc/authorize` URL for an ext-jwt login (step 1 above). */
export function authorizeUrl(controller: string | URL, p: AuthorizeParams): URL {
  const url = oidcUrl(controller, '/authorize');
  url.search = new URLSearchParams({
    client_id: OIDC_CLIENT_ID,
    response_type: 'code',
    scope: OIDC_SCOPE,
    redirect_uri: p.redirectUri,
    state: p.state,
    nonce: p.nonce,
    code_challenge: p.codeChallenge,
    code_challenge_method: 'S256',
    method: 'ext-jwt',
  }).toString();
  return url;
}

async function send(what: string, fetchFn: FetchLike, request: Request): Promise<Response> {
  try {
    return await fetchFn(request);
  } catch (err) {
    throw new ZitiControllerUnreachableError(what, { cause: err });
  }
}

async function bodyText(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  return text.trim().slice(0, 300);
}

/** Whether `url` is `redirectUri` itself (same origin and path; the query carries the answer). */
function atRedirectUri(url: URL, redirectUri: string): boolean {
  const r = new URL(redirectUri);
  return url.origin === r.origin && url.pathname === r.pathname;
}

/** Step 1: the auth request id, read from where the authorize redirects ended. */
async function startAuthRequest(
  opts: OidcLoginOptions,
  params: AuthorizeParams,
): Promise<{ loginUrl: URL; authRequestId: string }> {
  const what = 'GET /oidc/authorize';
  const res = await send(
    what,
    opts.fetch,
    new Request(authorizeUrl(opts.controller, params), { method: 'GET', redirect: 'follow' }),
  );
  const finalUrl = res.url ? new URL(res.url) : undefined;
  if (finalUrl && atRedirectUri(finalUrl, opts.redirectUri)) {
    // The provider sends some refusals back to the redirect URI (RFC 6749 §4.1.2.1).
    const error = finalUrl.searchParams.get('error') ?? 'no error given';
    const description = finalUrl.searchParams.get('error_description');
    await res.body?.cancel();
    throw new ZitiOidcError(
      'authorize-refused',
      `${what}: refused with ${error}${description ? `: ${description}` : ''}`,
      { status: res.status, oauthError: error },
    );
  }
  if (!res.ok) {
    throw new ZitiOidcError(
      'authorize-refused',
      `${what}: ${res.status}: ${(await bodyText(res)) || res.statusText}`,
      { status: res.status },
    );
  }
  await res.body?.cancel();
  const authRequestId = finalUrl?.searchParams.get('authRequestID');
  if (!finalUrl?.pathname.endsWith(`${OIDC_PATH}/login/ext-jwt`) || !authRequestId) {
    throw new ZitiOidcError(
      'no-auth-request',
      `${what}: the redirects ended at ${res.url || '(no URL)'}, not at ${OIDC_PATH}/login/ext-jwt?authRequestID=...`,
      { status: res.status },
    );
  }
  return { loginUrl: finalUrl, authRequestId };
}

/** Step 2: the code, read from the redirect URI the login's redirects ended at. */
async function loginWithExtJwt(
  opts: OidcLoginOptions,
  loginUrl: URL,
  authRequestId: string,
  state: string,
): Promise<string> {
  const what = 'POST /oidc/login/ext-jwt';
  const res = await send(
    what,
    opts.fetch,
    new Request(loginUrl, {
      method: 'POST',
      redirect: 'follow',
      headers: {
        accept: 'application/json',
        'content-type': 'application/json',
        authorization: `Bearer ${opts.idpToken}`,
      },
      body: JSON.stringify({
        id: authRequestId,
        ...(opts.configTypes?.length ? { configTypes: opts.configTypes } : {}),
      }),
    }),
  );
  const finalUrl = res.url ? new URL(res.url) : undefined;
  if (finalUrl && atRedirectUri(finalUrl, opts.redirectUri)) {
    await res.body?.cancel();
    const q = finalUrl.searchParams;
    const error = q.get('error');
    if (error) {
      const description = q.get('error_description');
      throw new ZitiOidcError(
        'no-code',
        `${what}: the controller answered the redirect URI with ${error}${description ? `: ${description}` : ''}`,
        { status: res.status, oauthError: error },
      );
    }
    if (q.get('state') !== state) {
      throw new ZitiOidcError(
        'state-mismatch',
        `${what}: the redirect URI came back with another state than the one sent`,
        { status: res.status },
      );
    }
    const code = q.get('code');
    if (!code) {
      throw new ZitiOidcError('no-code', `${what}: the redirect URI came back without a code`, {
        status: res.status,
      });
    }
    return code;
  }
  if (res.status === 401 || res.status === 403) {
    throw new ZitiOidcError(
      'login-refused',
      `${what}: the controller refused the IdP token (${res.status}: ${(await bodyText(res)) || res.statusText})`,
      { status: res.status },
    );
  }
  const text = await bodyText(res);
  if (res.ok) {
    let queries: unknown;
    try {
      queries = (JSON.parse(text) as { authQueries?: unknown }).authQueries;
    } catch {
      queries = undefined;
    }
    if (Array.isArray(queries) && queries.length > 0) {
      const names = queries.map((q) => {
        const o = (q ?? {}) as { typeId?: unknown; provider?: unknown };
        return [o.typeId, o.provider].filter((x) => typeof x === 'string' && x).join('/') || '?';
      });
      throw new ZitiOidcError(
        'auth-queries',
        `${what}: the identity's auth policy asks for more than the IdP token (${names.join(', ')}${res.headers.get('totp-required') === 'true' ? ', TOTP required' : ''}); this client cannot answer that`,
        { status: res.status },
      );
    }
  }
  throw new ZitiOidcError(
    'no-code',
    `${what}: the redirects ended at ${res.url || '(no URL)'} with ${res.status}, not at the redirect URI (${text || res.statusText})`,
    { status: res.status },
  );
}

function decodeSegment(segment: string): unknown {
  const b64 = segment.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
}

/** A JWT's header, or undefined for anything else (nothing is checked: this only reads). */
export function jwtHeader(token: string): Record<string, unknown> | undefined {
  try {
    const header = decodeSegment(token.split('.')[0] ?? '');
    return typeof header === 'object' && header !== null && !Array.isArray(header)
      ? (header as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A JWT's `jti`, or undefined for anything else (nothing is checked: this only reads). */
export function tokenId(token: string): string | undefined {
  try {
    const claims = decodeSegment(token.split('.')[1] ?? '') as { jti?: unknown };
    return typeof claims?.jti === 'string' ? claims.jti : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The claims of a controller access token, checked for what the session needs: a JWT (`ey`
 * prefix, three segments: what routers look for, `storage.go JwtTokenPrefix`), `z_t` = `a`,
 * `z_asid`, `sub`, a numeric `exp` and `aud` holding `openziti`. The signature is the
 * controller's and router's business; this only reads. Throws `bad-token-response` naming what
 * is wrong.
 */
export function readAccessClaims(token: string, what = 'access token'): AccessClaims {
  const fail = (problem: string, cause?: unknown) =>
    new ZitiOidcError('bad-token-response', `${what}: ${problem}`, { cause });
  const parts = token.split('.');
  if (!token.startsWith('ey') || parts.length !== 3 || parts.some((p) => p === '')) {
    throw fail('is not a JWT');
  }
  let claims: unknown;
  try {
    decodeSegment(parts[0]!);
    claims = decodeSegment(parts[1]!);
  } catch (err) {
    throw fail('is not a JWT (a segment is not base64url JSON)', err);
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw fail('has no claims object');
  }
  const c = claims as Record<string, unknown>;
  if (c.z_t !== 'a') throw fail(`is not an access token (z_t is ${JSON.stringify(c.z_t)})`);
  if (typeof c.z_asid !== 'string' || c.z_asid === '') throw fail('has no z_asid');
  if (typeof c.sub !== 'string' || c.sub === '') throw fail('has no sub');
  if (typeof c.exp !== 'number' || !Number.isFinite(c.exp)) throw fail('has no numeric exp');
  const aud = typeof c.aud === 'string' ? [c.aud] : c.aud;
  if (!Array.isArray(aud) || !aud.includes(OIDC_CLIENT_ID)) {
    throw fail(`is not for ${OIDC_CLIENT_ID} (aud is ${JSON.stringify(c.aud)})`);
  }
  return { ...c, aud } as AccessClaims;
}

/** Steps 3 and 4: one call to the token endpoint, its answer checked and made a session. */
async function tokenRequest(
  controller: string | URL,
  fetchFn: FetchLike,
  form: Record<string, string>,
): Promise<OidcSession> {
  const what = `POST /oidc/oauth/token (${form.grant_type})`;
  const res = await send(
    what,
    fetchFn,
    new Request(oidcUrl(controller, '/oauth/token'), {
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ client_id: OIDC_CLIENT_ID, ...form }).toString(),
    }),
  );
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new ZitiOidcError(
      res.ok ? 'bad-token-response' : 'token-refused',
      `${what}: ${res.status}, not JSON: ${text.trim().slice(0, 200) || '(empty)'}`,
      { status: res.status, cause: err },
    );
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ZitiOidcError('bad-token-response', `${what}: the answer is not a JSON object`, {
      status: res.status,
    });
  }
  const b = body as Record<string, unknown>;
  if (!res.ok || typeof b.error === 'string') {
    const error = typeof b.error === 'string' ? b.error : undefined;
    const description = typeof b.error_description === 'string' ? b.error_description : '';
    throw new ZitiOidcError(
      'token-refused',
      `${what}: refused with ${res.status} ${error ?? '(no error code)'}${description ? `: ${description}` : ''}`,
      { status: res.status, oauthError: error },
    );
  }
  const field = (name: string, problem: string) =>
    new ZitiOidcError('bad-token-response', `${what}: ${name} ${problem}`, {
      status: res.status,
    });
  if (typeof b.access_token !== 'string' || b.access_token === '')
    throw field('access_token', 'is missing');
  if (typeof b.token_type !== 'string') throw field('token_type', 'is missing');
  if (b.token_type.toLowerCase() !== 'bearer')
    throw field('token_type', `is "${b.token_type}", not Bearer`);
  if (typeof b.refresh_token !== 'string' || b.refresh_token === '')
    throw field('refresh_token', 'is missing (the scope asks for offline_access)');
  if (b.id_token !== undefined && typeof b.id_token !== 'string')
    throw field('id_token', 'is not a string');
  if (b.expires_in !== undefined && (typeof b.expires_in !== 'number' || b.expires_in < 0))
    throw field('expires_in', 'is not a non-negative number');
  const claims = readAccessClaims(b.access_token, `${what}: access_token`);
  return {
    accessToken: b.access_token,
    refreshToken: b.refresh_token,
    ...(typeof b.id_token === 'string' && b.id_token !== '' ? { idToken: b.id_token } : {}),
    expiresAt: new Date(claims.exp * 1000),
    apiSessionId: claims.z_asid,
    identityId: claims.sub,
  };
}

/**
 * Logs in with the IdP's token and returns the OIDC API session (steps 1-3). Throws
 * `ZitiOidcError` (see `OidcFault`) or `ZitiControllerUnreachableError`.
 */
export async function oidcLogin(opts: OidcLoginOptions): Promise<OidcSession> {
  const pkce = await createPkce();
  const params: AuthorizeParams = {
    redirectUri: opts.redirectUri,
    state: randomToken(16),
    nonce: randomToken(16),
    codeChallenge: pkce.challenge,
  };
  const { loginUrl, authRequestId } = await startAuthRequest(opts, params);
  const code = await loginWithExtJwt(opts, loginUrl, authRequestId, params.state);
  return tokenRequest(opts.controller, opts.fetch, {
    grant_type: 'authorization_code',
    code,
    code_verifier: pkce.verifier,
    redirect_uri: opts.redirectUri,
  });
}

/**
 * A new access token (and refresh token) for the same API session (step 4). Throws `token-refused`
 * for a refresh token the controller does not take (expired, revoked, garbage) and
 * `session-changed` if the answer belongs to another API session or identity.
 */
export async function oidcRefresh(opts: OidcRefreshOptions): Promise<OidcSession> {
  const next = await tokenRequest(opts.controller, opts.fetch, {
    grant_type: 'refresh_token',
    refresh_token: opts.session.refreshToken,
  });
  if (
    next.apiSessionId !== opts.session.apiSessionId ||
    next.identityId !== opts.session.identityId
  ) {
    throw new ZitiOidcError(
      'session-changed',
      `POST /oidc/oauth/token (refresh_token): the new access token is for API session ${next.apiSessionId} of ${next.identityId}, not ${opts.session.apiSessionId} of ${opts.session.identityId}`,
    );
  }
  return next;
}

/**
 * RFC 7009 revocation at the controller's OpenID provider (`/oidc/revoke`, zitadel/oidc `op`
 * default endpoints; `none` client authentication, so `client_id` in the form). Checked against
 * v1.7.2: a revoked refresh token gives no new access token (the refresh answers 400); a revoked
 * access token is refused for new circuits (the controller checks revocations when a router asks
 * it to create one: `ValidateAccessToken`), though REST calls and open circuits keep working
 * until its `exp`. Revoking a token twice is a 500 there. Resolves on 200; a refusal throws
 * `token-refused`, an unreachable controller `ZitiControllerUnreachableError`.
 */
export async function oidcRevoke(opts: {
  controller: string | URL;
  fetch: FetchLike;
  token: string;
  tokenTypeHint: 'refresh_token' | 'access_token';
}): Promise<void> {
  const what = `POST /oidc/revoke (${opts.tokenTypeHint})`;
  const res = await send(
    what,
    opts.fetch,
    new Request(oidcUrl(opts.controller, '/revoke'), {
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        client_id: OIDC_CLIENT_ID,
        token: opts.token,
        token_type_hint: opts.tokenTypeHint,
      }).toString(),
    }),
  );
  if (res.ok) {
    await res.body?.cancel();
    return;
  }
  throw new ZitiOidcError('token-refused', `${what}: ${res.status} ${await bodyText(res)}`, {
    status: res.status,
  });
}
