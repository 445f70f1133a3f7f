/**
 * The controller's OIDC API at `/oidc` (reference §1.5), the subset the browser client uses, as
 * OpenZiti v1.7.2 answers it (shared/ziti/controller/oidc-session.ts lists the sources):
 *
 * - `GET /oidc/authorize`: clients `openziti` and `native`; redirect URIs from the configured list
 *   (exact or `*` globs; empty: the real defaults), with the native-client rules (`http` only on
 *   loopback; a loopback URI matches a listed loopback URI with the same path on any port);
 *   `response_type=code`; 302 to `/oidc/login/<ext-jwt|username|cert>?authRequestID=`. Stricter
 *   than the real controller (which checks PKCE only at the token endpoint): a `code_challenge`
 *   with method S256 is required here.
 * - `GET|POST /oidc/login/ext-jwt`: the IdP JWT as Bearer, checked as `POST /authenticate?
 *   method=ext-jwt` checks it (ext-jwt.ts); 302 to `/oidc/authorize/callback?id=`, which 302s to
 *   `redirect_uri?code=&state=`. Only ext-jwt logs in here.
 * - `POST /oidc/oauth/token`: `authorization_code` (single-use code, PKCE verifier, same
 *   `redirect_uri`) and `refresh_token` (rotated: a used or revoked refresh token is refused).
 *   Access tokens are JWTs signed with the controller's key: `sub` (identity), `aud` [client id],
 *   `z_t` "a", `z_asid` (a fabric API session, so every API-session route takes `Authorization:
 *   Bearer`), `exp` after `accessTokenSeconds`.
 * - `/oidc/revoke` (RFC 7009): revocations are ids in the fabric state, which the router checks on
 *   Connect and Bind as the real controller does when it creates a circuit (see `revoke`).
 * - `GET /oidc/.well-known/openid-configuration` (the real document) and `GET /oidc/keys`.
 * - CORS as the real stack: the outer layer (`controller/api/cors.go`, gorilla/handlers) answers
 *   preflights and puts `Access-Control-Allow-Origin: *` on everything with an `Origin`; the OpenID
 *   provider's own routes (authorize, its callback, token, revoke, keys, discovery) then echo the
 *   origin and expose `Location, Content-Length` (zitadel/oidc `op`'s CORS).
 *
 * An OIDC API session ends like a fabric one: idle for `apiSessionTimeoutSeconds` (refreshes and
 * REST calls keep it alive) or removed; the real controller keeps it as long as a refresh token is
 * valid. `DELETE /current-api-session` with an access token is 404, as on the real controller.
 */
import { randomBytes, randomUUID, webcrypto } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { exportJWK, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import type { IdentityConfig } from '../config.ts';
import type { ApiSession } from '../state.ts';
import type { Controller, Ctx } from './context.ts';
import { ApiError, corsLayer } from './envelope.ts';

export const OIDC_BASE = '/oidc';
export { OIDC_CALLBACK_PATH } from '../../shared/config/bootstrap-config.ts';

/** The clients the real controller registers (`common/oidc_tokens.go`). */
const CLIENT_IDS = ['openziti', 'native'];
/** What the real controller allows when its `edge-oidc` binding lists no `redirectURIs`. */
export const DEFAULT_REDIRECT_URIS = [
  'openziti://auth/callback',
  'https://127.0.0.1:*/auth/callback',
  'http://127.0.0.1:*/auth/callback',
  'https://localhost:*/auth/callback',
  'http://localhost:*/auth/callback',
];
const STANDARD_SCOPES = ['openid', 'profile', 'email', 'phone', 'address', 'offline_access'];
/** The OpenID provider's own routes, which get its CORS on top of the outer layer's. */
const PROVIDER_ROUTES = new Set(
  [
    '/authorize',
    '/authorize/callback',
    '/oauth/token',
    '/revoke',
    '/keys',
    '/.well-known/openid-configuration',
  ].map((p) => `${OIDC_BASE}${p}`),
);
/** RFC 7523 client authentication by a signed assertion (zitadel `oidc.ClientAssertionTypeJWTAssertion`). */
const JWT_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const AUTH_REQUEST_TTL_MS = 10 * 60_000;
const ADMIN_HINT =
  'If you have any questions, you may contact the administrator of the application.';

export interface OidcOptions {
  /** The `edge-oidc` binding's `redirectURIs`; empty for the real controller's defaults. */
  redirectUris: string[];
  /** `edge.oidc.accessTokenDuration` (default 30 min). */
  accessTokenSeconds: number;
  /** `edge.oidc.refreshTokenDuration` (default 24 h). */
  refreshTokenSeconds: number;
  /** `edge.oidc.idTokenDuration` (default 30 min). */
  idTokenSeconds: number;
}

export const DEFAULT_OIDC_OPTIONS: OidcOptions = {
  redirectUris: [],
  accessTokenSeconds: 1800,
  refreshTokenSeconds: 86400,
  idTokenSeconds: 1800,
};

interface AuthRequest {
  id: string;
  clientId: string;
  redirectUri: string;
  state: string;
  nonce: string;
  scopes: string[];
  challenge: string;
  createdAt: number;
  identity?: IdentityConfig;
  configTypes: string[];
}

/** `true` for paths the OIDC API serves (everything under `/oidc`). */
export function isOidcPath(rawUrl: string | undefined): boolean {
  const path = new URL(rawUrl ?? '/', 'http://x').pathname;
  return path === OIDC_BASE || path.startsWith(`${OIDC_BASE}/`);
}

/** A glob of the redirect-URI list: `*` matches within a path segment or port, `**` anything. */
function globMatch(glob: string, value: string): boolean {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`).test(value);
}

function loopback(uri: string): URL | undefined {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return u;
  if (isIP(host) === 4 && host.startsWith('127.')) return u;
  if (host === '::1') return u;
  return undefined;
}

/** The native-client redirect rules of zitadel/oidc (`validateAuthReqRedirectURINative`). */
export function redirectUriProblem(allowed: string[], uri: string): string | undefined {
  const listed = allowed.includes(uri) || allowed.some((g) => globMatch(g, uri));
  const lb = loopback(uri);
  const custom = !uri.startsWith('http://') && !uri.startsWith('https://');
  if (listed) {
    if ((!lb && uri.startsWith('https://')) || lb || custom) return undefined;
    return `This client's redirect_uri is http and is not allowed. ${ADMIN_HINT}`;
  }
  if (lb) {
    for (const a of allowed) {
      const other = loopback(a);
      if (other && other.pathname === lb.pathname && other.search === lb.search) return undefined;
    }
  }
  return `The requested redirect_uri is missing in the client configuration. ${ADMIN_HINT}`;
}

function base64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'x-content-type-options': 'nosniff',
  });
  res.end(`${text}\n`);
}

function redirect(res: ServerResponse, method: string, location: string): void {
  const headers: Record<string, string> = { location };
  let body = '';
  if (method === 'GET' || method === 'HEAD') {
    headers['content-type'] = 'text/html; charset=utf-8';
    body = `<a href="${location.replace(/&/g, '&amp;').replace(/"/g, '&#34;')}">Found</a>.\n\n`;
  }
  res.writeHead(302, headers);
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** An RFC 6749 error answer of the token endpoint (zitadel `op.RequestError`). */
class TokenError extends Error {
  constructor(
    readonly error: string,
    readonly description = '',
  ) {
    super(`${error}${description ? `: ${description}` : ''}`);
  }
  get status(): number {
    return this.error === 'invalid_client' ? 401 : 400;
  }
}

/**
 * Why the revocation's client authentication fails, if it does (zitadel/oidc
 * `op/token_revocation.go ParseTokenRevocationRequest`, with the controller's clients: public,
 * auth method `none`, secret empty; `controller/oidc_auth/client.go`, `storage.go
 * AuthorizeClientIDSecret`).
 */
function revocationClientProblem(
  authorization: string | undefined,
  field: (k: string) => string,
): { description?: string } | undefined {
  const wrongSecret = { description: 'invalid client_id / client_secret' };
  // A signed client assertion needs a key registered for the client, and the controller's clients
  // have none: refused (simplified: the real answer depends on how the assertion fails).
  if (field('client_assertion_type') === JWT_ASSERTION) return {};
  const basic = /^basic\s+(\S+)$/i.exec(authorization ?? '');
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) {
      let id: string;
      let secret: string;
      try {
        id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
        secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
      } catch {
        return { description: 'invalid basic auth header' };
      }
      return CLIENT_IDS.includes(id) && secret === '' ? undefined : wrongSecret;
    }
  }
  const clientId = field('client_id');
  if (!clientId) return { description: 'invalid authorization' };
  if (!CLIENT_IDS.includes(clientId)) return {};
  return field('client_secret') === '' ? undefined : wrongSecret;
}

async function readBody(req: IncomingMessage, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max)
      throw new ApiError(400, 'COULD_NOT_VALIDATE', `request body exceeds ${max} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The discovery document of v1.7.2 (`GET /oidc/.well-known/openid-configuration`), as zitadel/oidc
 * v3.45 `op/discovery.go CreateDiscoveryConfig` builds it from the controller's provider config
 * (`controller/oidc_auth/provider.go newOidcProvider`) and as the running controller answers it.
 * The fabric serves authorize, token, revoke and keys of these endpoints; introspection, userinfo,
 * end_session and device authorization are listed as the real one lists them, and 404 here. The
 * signing algorithm is the fabric key's (the real controller's is its TLS key's, RS256 for an RSA
 * key); the other algorithm lists are zitadel's constant RS256.
 */
export function discoveryDocument(issuer: string): Record<string, unknown> {
  const authMethods = ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'];
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    userinfo_endpoint: `${issuer}/userinfo`,
    revocation_endpoint: `${issuer}/revoke`,
    end_session_endpoint: `${issuer}/end_session`,
    device_authorization_endpoint: `${issuer}/device_authorization`,
    jwks_uri: `${issuer}/keys`,
    scopes_supported: STANDARD_SCOPES,
    response_types_supported: ['code', 'id_token', 'id_token token'],
    grant_types_supported: [
      'authorization_code',
      'implicit',
      'refresh_token',
      'client_credentials',
      'urn:ietf:params:oauth:grant-type:token-exchange',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
      'urn:ietf:params:oauth:grant-type:device_code',
    ],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['ES256'],
    request_object_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_methods_supported: authMethods,
    token_endpoint_auth_signing_alg_values_supported: ['RS256'],
    revocation_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_signing_alg_values_supported: ['RS256'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt'],
    introspection_endpoint_auth_signing_alg_values_supported: ['RS256'],
    claims_supported: [
      'sub',
      'aud',
      'exp',
      'iat',
      'iss',
      'auth_time',
      'nonce',
      'acr',
      'amr',
      'c_hash',
      'at_hash',
      'act',
      'scopes',
      'client_id',
      'azp',
      'preferred_username',
      'name',
      'family_name',
      'given_name',
      'locale',
      'email',
      'email_verified',
      'phone_number',
      'phone_number_verified',
    ],
    code_challenge_methods_supported: ['S256'],
    ui_locales_supported: ['en'],
    request_parameter_supported: true,
    request_uri_parameter_supported: false,
  };
}

export class FabricOidc {
  readonly options: OidcOptions;
  private readonly requests = new Map<string, AuthRequest>();
  /** code -> auth request id (several codes per request, as a repeated callback gives). */
  private readonly codes = new Map<string, string>();

  constructor(
    private readonly c: Controller,
    options: Partial<OidcOptions> = {},
  ) {
    this.options = { ...DEFAULT_OIDC_OPTIONS, ...options };
  }

  private get redirectUris(): string[] {
    return this.options.redirectUris.length > 0 ? this.options.redirectUris : DEFAULT_REDIRECT_URIS;
  }

  /** Answers one request under `/oidc`. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://controller');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    // Outer CORS layer, as on every API of the real controller.
    if (corsLayer(req, res)) return;
    const origin = req.headers.origin;
    const providerRoute = PROVIDER_ROUTES.has(path);
    if (origin && providerRoute) {
      // The OpenID provider's own CORS: echoes the origin, exposes Location.
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-expose-headers', 'Location, Content-Length');
      res.setHeader('vary', 'Origin');
    }
    const base = `${req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http'}://${req.headers.host}`;

    if (path === `${OIDC_BASE}/authorize` && (method === 'GET' || method === 'POST'))
      return this.authorize(req, res, url, method);
    if (path === `${OIDC_BASE}/authorize/callback` && method === 'GET')
      return this.callback(res, url, method);
    if (path === `${OIDC_BASE}/oauth/token` && method === 'POST') {
      try {
        return await this.token(req, res, base);
      } catch (err) {
        if (err instanceof TokenError)
          return json(res, err.status, {
            error: err.error,
            ...(err.description ? { error_description: err.description } : {}),
          });
        throw err;
      }
    }
    // Any method: the provider routes the endpoint without one (zitadel/oidc `op/op.go`).
    if (path === `${OIDC_BASE}/revoke`) return this.revoke(req, res, base, method);
    if (path === `${OIDC_BASE}/.well-known/openid-configuration` && method === 'GET')
      return json(res, 200, discoveryDocument(`${base}${OIDC_BASE}`));
    if (path === `${OIDC_BASE}/keys` && method === 'GET') return this.keys(res);
    const login = /^\/oidc\/login\/(ext-jwt|cert|username|password)$/.exec(path)?.[1];
    if (login && method === 'GET') {
      const id = url.searchParams.get('authRequestID') ?? '';
      res.setHeader('auth-request-id', id);
      if (login === 'ext-jwt' || login === 'cert') {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('please POST to this URL');
      } else {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><title>Login</title><p>The fabric logs in with ext-jwt only.</p>');
      }
      return;
    }
    if (login === 'ext-jwt' && method === 'POST') return this.loginExtJwt(req, res, url, base);
    if (login === 'cert' && method === 'POST')
      return plain(res, 401, 'The authentication request failed');
    plain(res, 404, '404 page not found');
  }

  private errorRedirect(
    res: ServerResponse,
    method: string,
    redirectUri: string,
    state: string,
    error: string,
    description: string,
  ): void {
    const u = new URL(redirectUri);
    u.searchParams.set('error', error);
    if (description) u.searchParams.set('error_description', description);
    if (state) u.searchParams.set('state', state);
    redirect(res, method, u.href);
  }

  private async authorize(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    method: string,
  ): Promise<void> {
    const q =
      method === 'POST'
        ? new URLSearchParams(await readBody(req, this.c.state.config.controller.maxBodyBytes))
        : url.searchParams;
    const clientId = q.get('client_id') ?? '';
    const redirectUri = q.get('redirect_uri') ?? '';
    const state = q.get('state') ?? '';
    if (!clientId) return plain(res, 400, 'auth request is missing client_id');
    if (!redirectUri) return plain(res, 400, 'auth request is missing redirect_uri');
    if (!CLIENT_IDS.includes(clientId)) return plain(res, 400, 'unable to retrieve client by id');
    const problem = redirectUriProblem(this.redirectUris, redirectUri);
    if (problem) return plain(res, 400, problem);
    const fail = (error: string, description: string) =>
      this.errorRedirect(res, method, redirectUri, state, error, description);
    const scopes = (q.get('scope') ?? '').split(' ').filter((s) => STANDARD_SCOPES.includes(s));
    if (!q.get('scope')) return fail('invalid_request', 'The scope of your request is missing.');
    const responseType = q.get('response_type') ?? '';
    if (!responseType)
      return fail('invalid_request', 'The response type is missing in your request.');
    if (responseType !== 'code')
      return fail(
        'unauthorized_client',
        `The requested response type is missing in the client configuration. ${ADMIN_HINT}`,
      );
    const challenge = q.get('code_challenge') ?? '';
    if (!challenge || q.get('code_challenge_method') !== 'S256')
      return fail('invalid_request', 'the fabric requires PKCE with code_challenge_method S256');
    if (q.get('prompt') === 'none') return fail('login_required', '');

    const now = this.c.state.now();
    for (const [id, r] of this.requests)
      if (now - r.createdAt > AUTH_REQUEST_TTL_MS) this.forget(id);
    const ar: AuthRequest = {
      id: randomUUID(),
      clientId,
      redirectUri,
      state,
      nonce: q.get('nonce') ?? '',
      scopes,
      challenge,
      createdAt: now,
      configTypes: q.getAll('configTypes'),
    };
    this.requests.set(ar.id, ar);
    const page =
      q.get('method') === 'ext-jwt' ? 'ext-jwt' : q.get('method') === 'cert' ? 'cert' : 'username';
    redirect(res, method, `${OIDC_BASE}/login/${page}?authRequestID=${ar.id}`);
  }

  private async loginExtJwt(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    base: string,
  ): Promise<void> {
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    if (type !== 'application/json' && type !== 'application/x-www-form-urlencoded') {
      return json(res, 415, {
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message: `the content type: ${type}, is not supported (supported: application/x-www-form-urlencoded, application/json)`,
      });
    }
    const text = await readBody(req, this.c.state.config.controller.maxBodyBytes);
    let id = '';
    let configTypes: string[] = [];
    if (type === 'application/json') {
      let body: unknown;
      try {
        body = text.trim() === '' ? {} : JSON.parse(text);
      } catch {
        return json(res, 400, { code: 'COULD_NOT_VALIDATE', message: 'malformed JSON' });
      }
      const b = (body ?? {}) as { id?: unknown; configTypes?: unknown };
      if (typeof b.id === 'string') id = b.id;
      if (Array.isArray(b.configTypes))
        configTypes = b.configTypes.filter((x): x is string => typeof x === 'string');
    } else {
      const form = new URLSearchParams(text);
      id = form.get('id') ?? '';
      configTypes = form.getAll('configTypes');
    }
    id ||= url.searchParams.get('authRequestID') || url.searchParams.get('id') || '';
    const ar = this.requests.get(id);
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!ar || !m) return plain(res, 401, 'The authentication request failed');
    try {
      ar.identity = (await this.c.extJwt.verify(m[1]!)).identity;
    } catch (err) {
      if (err instanceof ApiError) {
        this.c.log.info(`OIDC ext-jwt login refused: ${err.causeMessage}`);
        return plain(res, 401, 'The authentication request failed');
      }
      throw err;
    }
    ar.configTypes.push(...configTypes);
    this.c.log.info(`${ar.identity.name} authenticated (OIDC ext-jwt)`);
    redirect(res, 'POST', `${base}${OIDC_BASE}/authorize/callback?id=${encodeURIComponent(ar.id)}`);
  }

  private async callback(res: ServerResponse, url: URL, method: string): Promise<void> {
    const id = url.searchParams.get('id');
    if (!id) return plain(res, 400, 'id missing');
    const ar = this.requests.get(id);
    if (!ar) return plain(res, 400, 'request not found');
    if (!ar.identity)
      return this.errorRedirect(
        res,
        method,
        ar.redirectUri,
        ar.state,
        'interaction_required',
        'Unfortunately, the user may be not logged in and/or additional interaction is required.',
      );
    const code = base64Url(randomBytes(48));
    this.codes.set(code, ar.id);
    const u = new URL(ar.redirectUri);
    u.searchParams.set('code', code);
    if (ar.state) u.searchParams.set('state', ar.state);
    redirect(res, method, u.href);
  }

  private forget(id: string): void {
    this.requests.delete(id);
    for (const [code, rid] of this.codes) if (rid === id) this.codes.delete(code);
  }

  private async token(req: IncomingMessage, res: ServerResponse, base: string): Promise<void> {
    const form = new URLSearchParams(
      await readBody(req, this.c.state.config.controller.maxBodyBytes),
    );
    const grant = form.get('grant_type') ?? '';
    if (grant === 'authorization_code') return this.codeGrant(res, form, base);
    if (grant === 'refresh_token') return this.refreshGrant(res, form, base);
    throw new TokenError('unsupported_grant_type', `${grant} not supported`);
  }

  private async codeGrant(res: ServerResponse, form: URLSearchParams, base: string): Promise<void> {
    const code = form.get('code') ?? '';
    if (!code) throw new TokenError('invalid_request', 'code missing');
    const id = this.codes.get(code);
    const ar = id ? this.requests.get(id) : undefined;
    if (!ar?.identity) throw new TokenError('invalid_grant', 'invalid code');
    const verifier = form.get('code_verifier') ?? '';
    if (!verifier) throw new TokenError('invalid_request', 'code_verifier required');
    const digest = await webcrypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
    if (base64Url(new Uint8Array(digest)) !== ar.challenge)
      throw new TokenError('invalid_grant', 'invalid code_verifier');
    const clientId = form.get('client_id') ?? '';
    if (!CLIENT_IDS.includes(clientId)) throw new TokenError('invalid_client');
    if (clientId !== ar.clientId) throw new TokenError('invalid_grant');
    if ((form.get('redirect_uri') ?? '') !== ar.redirectUri)
      throw new TokenError('invalid_grant', 'redirect_uri does not correspond');
    this.forget(ar.id);
    const s = this.c.state.createApiSession(ar.identity, {
      authMethod: 'ext-jwt',
      configTypes: ar.configTypes,
    });
    const claims = this.sessionClaims(s, ar.clientId, ar.scopes);
    json(res, 200, await this.tokenResponse(base, claims, { nonce: ar.nonce, first: true }));
  }

  private async refreshGrant(
    res: ServerResponse,
    form: URLSearchParams,
    base: string,
  ): Promise<void> {
    const token = form.get('refresh_token') ?? '';
    if (!token) throw new TokenError('invalid_request', 'refresh_token missing');
    const clientId = form.get('client_id') ?? '';
    if (!CLIENT_IDS.includes(clientId)) throw new TokenError('server_error', 'client not found');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.c.state.pki.jwtKey.publicKey, {
        currentDate: new Date(this.c.state.now()),
      }));
    } catch {
      throw new TokenError('invalid_grant');
    }
    if (payload.z_t !== 'r' || typeof payload.jti !== 'string')
      throw new TokenError('invalid_grant');
    if (payload.client_id !== clientId) throw new TokenError('invalid_grant');
    // Rotation revokes the token's id first; for a token already rotated or revoked at /oidc/revoke
    // that revocation exists, and v1.7.2 answers the store's error (`storage.go renewRefreshToken`).
    if (!this.c.state.addRevocation(payload.jti)) {
      throw new TokenError(
        'server_error',
        `an entity of type revocation already exists with id ${payload.jti}`,
      );
    }
    const s = this.c.state.apiSessionById(String(payload.z_asid));
    if (!s) throw new TokenError('invalid_grant');
    this.c.state.touch(s);
    const scopes = Array.isArray(payload.scopes) ? (payload.scopes as string[]) : [];
    json(
      res,
      200,
      await this.tokenResponse(base, this.sessionClaims(s, clientId, scopes), { first: false }),
    );
  }

  /**
   * RFC 7009 revocation (`POST /oidc/revoke`) as v1.7.2 answers it: the client check of zitadel/oidc
   * `op/token_revocation.go ParseTokenRevocationRequest`, then `Revoke` with the controller's
   * `storage.go GetRefreshTokenInfo` and `RevokeToken`. Unless the hint is `access_token`, a
   * refresh token it can read is revoked by its id and as the token itself; otherwise a token it
   * can read as its own access token (issuer, signature, `exp`; any type) by its id; a JWT it
   * cannot read is ignored; anything else is revoked as the string itself. Each revocation is a
   * stored entity, so revoking an id again is the store's error: 500 `server_error`. 200 with an
   * empty body otherwise.
   */
  private async revoke(
    req: IncomingMessage,
    res: ServerResponse,
    base: string,
    method: string,
  ): Promise<void> {
    // Go's ParseForm: a form body (POST, PUT or PATCH with the form content type; any other body
    // is ignored), its values before the query's.
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim()
      .toLowerCase();
    const formBody =
      ['POST', 'PUT', 'PATCH'].includes(method) && type === 'application/x-www-form-urlencoded';
    const body = new URLSearchParams(
      formBody ? await readBody(req, this.c.state.config.controller.maxBodyBytes) : '',
    );
    const query = new URL(req.url ?? '/', 'http://controller').searchParams;
    const field = (k: string) => body.get(k) ?? query.get(k) ?? '';
    const refuse = (status: number, error: string, description?: string) =>
      json(res, status, { error, ...(description ? { error_description: description } : {}) });
    const clientProblem = revocationClientProblem(req.headers.authorization, field);
    if (clientProblem) return refuse(401, 'invalid_client', clientProblem.description);
    const token = field('token');
    const ids: string[] = [];
    const refresh =
      field('token_type_hint') === 'access_token' ? undefined : await this.readRefresh(token);
    if (refresh) ids.push(refresh, token);
    else {
      const accessId = await this.readOwnToken(token, `${base}${OIDC_BASE}`);
      if (accessId !== undefined) ids.push(accessId);
      // An empty token: the store gives the revocation a new id, so it never collides.
      else if (!token.startsWith('ey') && token !== '') ids.push(token);
    }
    for (const id of ids) if (!this.c.state.addRevocation(id)) return refuse(500, 'server_error');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end();
  }

  /** The id of a refresh token of this controller (`storage.go parseRefreshToken`: signature, time claims, `z_t` "r"). */
  private async readRefresh(token: string): Promise<string | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.c.state.pki.jwtKey.publicKey, {
        currentDate: new Date(this.c.state.now()),
      });
      return payload.z_t === 'r' ? String(payload.jti ?? '') : undefined;
    } catch {
      return undefined;
    }
  }

  /** The id of a token this provider issued, read as zitadel's `VerifyAccessToken` reads one. */
  private async readOwnToken(token: string, issuer: string): Promise<string | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.c.state.pki.jwtKey.publicKey, {
        issuer,
        currentDate: new Date(this.c.state.now()),
      });
      return String(payload.jti ?? '');
    } catch {
      return undefined;
    }
  }

  /** `GET /oidc/keys`: the key the tokens are signed with, as go-jose writes a public JWK. */
  private async keys(res: ServerResponse): Promise<void> {
    const { kid, publicKey } = this.c.state.pki.jwtKey;
    const { kty, crv, x, y } = await exportJWK(publicKey);
    json(res, 200, { keys: [{ use: 'sig', kty, kid, crv, alg: 'ES256', x, y }] });
  }

  private sessionClaims(s: ApiSession, clientId: string, scopes: string[]): SessionClaims {
    return {
      sub: s.identity.id,
      clientId,
      scopes,
      custom: {
        z_asid: s.id,
        z_aid: clientId,
        z_eid: s.identity.externalId,
        z_ct: s.configTypes,
        z_cfs: null,
        amr: ['ext-jwt'],
        client_id: clientId,
        scopes,
      },
    };
  }

  private async sign(
    base: string,
    claims: SessionClaims,
    extra: Record<string, unknown>,
    ttlSeconds: number,
    jti: string | undefined,
  ): Promise<string> {
    const now = Math.floor(this.c.state.now() / 1000);
    const jwt = new SignJWT({ ...claims.custom, ...extra })
      .setProtectedHeader({ alg: 'ES256', kid: this.c.state.pki.jwtKey.kid, typ: 'JWT' })
      .setIssuer(`${base}${OIDC_BASE}`)
      .setSubject(claims.sub)
      .setAudience([claims.clientId])
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + ttlSeconds);
    if (jti !== undefined) jwt.setJti(jti);
    return jwt.sign(this.c.state.pki.jwtKey.privateKey);
  }

  /**
   * The token endpoint's answer. Token ids as v1.7.2 gives them (`controller/oidc_auth/
   * storage.go`): each access token a new one; the first refresh token, made from the access
   * token's claims (`createRefreshClaims`), the access token's own, so revoking either id revokes
   * both; a rotated refresh token a new one (`renewRefreshToken`); the ID token none (zitadel/oidc
   * `NewIDTokenClaims`).
   */
  private async tokenResponse(
    base: string,
    claims: SessionClaims,
    opts: { nonce?: string; first: boolean },
  ): Promise<Record<string, unknown>> {
    const o = this.options;
    const accessId = randomUUID();
    const refreshId = opts.first ? accessId : randomUUID();
    const access = await this.sign(base, claims, { z_t: 'a' }, o.accessTokenSeconds, accessId);
    const refresh = await this.sign(base, claims, { z_t: 'r' }, o.refreshTokenSeconds, refreshId);
    const nonce = opts.nonce ? { nonce: opts.nonce } : {};
    const id = await this.sign(base, claims, nonce, o.idTokenSeconds, undefined);
    return {
      access_token: access,
      token_type: 'Bearer',
      refresh_token: refresh,
      expires_in: o.accessTokenSeconds,
      id_token: id,
      ...(claims.scopes.length > 0 ? { scope: claims.scopes.join(' ') } : {}),
    };
  }

  /**
   * The API session named by an access token in `Authorization: Bearer`, for the client API
   * routes: undefined when a `zt-session` header is present or the bearer is not a token of this
   * controller (an IdP token, say: the caller then needs a zt-session), 401 when it is one but
   * expired or of a session that has ended. `DELETE /current-api-session` is 404 for it, as on
   * the real controller (an OIDC session is not a stored API session there).
   */
  async bearerSession(ctx: Ctx): Promise<ApiSession | undefined> {
    if (ctx.req.headers['zt-session'] !== undefined) return undefined;
    const m = /^Bearer\s+(ey\S+)$/i.exec(ctx.req.headers.authorization ?? '');
    if (!m) return undefined;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(m[1]!, this.c.state.pki.jwtKey.publicKey, {
        audience: CLIENT_IDS,
        currentDate: new Date(this.c.state.now()),
      }));
    } catch (err) {
      const code = (err as { code?: string }).code;
      // Signed by this controller but expired or for another audience; anything else is not ours.
      if (code === 'ERR_JWT_EXPIRED' || code === 'ERR_JWT_CLAIM_VALIDATION_FAILED')
        throw new ApiError(401, 'UNAUTHORIZED', `access token rejected: ${(err as Error).message}`);
      return undefined;
    }
    if (!String(payload.iss ?? '').endsWith(OIDC_BASE)) return undefined;
    if (payload.z_t !== 'a') throw new ApiError(401, 'UNAUTHORIZED', 'not an access token');
    const s = this.c.state.apiSessionById(String(payload.z_asid));
    if (!s) throw new ApiError(401, 'UNAUTHORIZED', 'the API session has ended');
    if (ctx.route === 'DELETE /current-api-session')
      throw new ApiError(404, 'NOT_FOUND', `apiSession with id ${s.id} not found`);
    this.c.state.touch(s);
    return s;
  }
}

interface SessionClaims {
  sub: string;
  clientId: string;
  scopes: string[];
  custom: Record<string, unknown>;
}
