/**
 * The API session an identity holds, legacy or OIDC, in one place: choosing the kind from the
 * controller, logging in with the IdP's token, how the controller is asked with it, and when and
 * how an OIDC access token is refreshed. Used by the bootstrap page (first login) and the service
 * worker (refresh, re-login); Web APIs only.
 *
 * Legacy (reference §1.4): `POST /authenticate?method=ext-jwt` gives a `zt-session` token that
 * lives while it is used. OIDC (§1.5, shared/ziti/controller/oidc-session.ts): the controller's
 * OpenID provider gives a short-lived access JWT (REST `Authorization: Bearer`, the router hello's
 * token) and a single-use refresh token; the access token is refreshed before it expires and every
 * open router channel is then told the new one (UpdateToken).
 */
import type { BootstrapConfig } from '../config/bootstrap-config.ts';
import {
  type FetchLike,
  type OidcSession,
  oidcLogin,
  oidcRefresh,
  readAccessClaims,
} from '../ziti/controller/oidc-session.ts';
import { type ControllerAuth, ControllerClient, controllerSupportsOidc } from '../ziti/index.ts';
import { CONFIG_TYPES, SDK_INFO } from './sdk-info.ts';
import type { StoredIdentity } from './store.ts';

export type StoredApiSession = StoredIdentity['apiSession'];
export type ApiSessionKind = 'oidc' | 'legacy';

/** An access token is refreshed at 2/3 of its life, as session certificates are renewed. */
export const TOKEN_REFRESH_AT_FRACTION = 2 / 3;

export class ControllerAuthError extends Error {
  override readonly name = 'ControllerAuthError';
  readonly code = 'ERR_OIDC_UNAVAILABLE';
}

/** How REST calls carry this session: `zt-session` (legacy) or `Authorization: Bearer` (OIDC). */
export function controllerAuth(apiSession: StoredApiSession): ControllerAuth {
  return apiSession.oidc ? { accessToken: apiSession.token } : { sessionToken: apiSession.token };
}

/** When the access token is due for refresh (epoch ms); never for a legacy session. */
export function tokenRefreshDue(apiSession: StoredApiSession): number {
  const o = apiSession.oidc;
  return o ? o.receivedAt + (o.expiresAt - o.receivedAt) * TOKEN_REFRESH_AT_FRACTION : Infinity;
}

/**
 * `controllerAuth` of config.json against the controller's `/version`: `auto` takes OIDC where
 * the controller offers it. Forcing OIDC on a controller without it fails here, clearly.
 */
export async function chooseApiSessionKind(
  mode: BootstrapConfig['controllerAuth'],
  controller: ControllerClient,
): Promise<ApiSessionKind> {
  if (mode === 'legacy') return 'legacy';
  const offersOidc = controllerSupportsOidc(await controller.version());
  if (offersOidc) return 'oidc';
  if (mode === 'oidc')
    throw new ControllerAuthError(
      'config.json asks for OIDC sessions ("controllerAuth": "oidc"), but the controller does not offer them (no OIDC_AUTH capability)',
    );
  return 'legacy';
}

/**
 * An OIDC session in stored form. Its lifetime (`exp - iat`) is laid on this browser's clock from
 * the moment it arrived, so a controller clock that differs does not move the refresh.
 */
export function storedOidcSession(
  session: OidcSession,
  identityName: string,
  now = Date.now(),
): StoredApiSession {
  const claims = readAccessClaims(session.accessToken);
  const lifetimeMs =
    typeof claims.iat === 'number' && claims.iat <= claims.exp
      ? (claims.exp - claims.iat) * 1000
      : session.expiresAt.getTime() - now;
  return {
    token: session.accessToken,
    id: session.apiSessionId,
    identityId: session.identityId,
    identityName,
    oidc: {
      refreshToken: session.refreshToken,
      receivedAt: now,
      expiresAt: now + Math.max(0, lifetimeMs),
    },
  };
}

export interface LoginOptions {
  controller: string;
  kind: ApiSessionKind;
  /** The IdP's token the controller's ext-jwt signer takes. */
  idpToken: string;
  /** The site's OIDC callback URL (OIDC_CALLBACK_PATH on the site's origin). */
  redirectUri: string;
  /** Sent with a legacy login (an OIDC login carries none). */
  envInfo?: Record<string, string>;
  fetch?: typeof fetch;
}

/** What a login gives. */
export interface LoggedIn {
  /** The identity the session is for. */
  identityId: string;
  /** A controller client that uses the new session. */
  client: ControllerClient;
  /**
   * The session to store. An OIDC login learns its identity's name with one more request
   * (`/current-identity`), started at once: what needs only `identityId` and `client` (the
   * certificate, the service lookup) goes on beside it instead of after it.
   */
  apiSession: Promise<StoredApiSession>;
}

/** A new API session from the IdP's token. */
export async function login(opts: LoginOptions): Promise<LoggedIn> {
  const fetchFn: typeof fetch = opts.fetch ?? ((input, init) => fetch(input, init));
  if (opts.kind === 'legacy') {
    const client = new ControllerClient({ baseUrl: opts.controller, fetch: fetchFn });
    const session = await client.authenticateExtJwt(opts.idpToken, {
      configTypes: [...CONFIG_TYPES],
      sdkInfo: SDK_INFO,
      ...(opts.envInfo ? { envInfo: opts.envInfo } : {}),
    });
    const identityId = session.identity?.id ?? session.identityId ?? '';
    const apiSession: StoredApiSession = {
      token: session.token,
      id: session.id,
      identityId,
      identityName: session.identity?.name ?? identityId,
    };
    return { identityId, client, apiSession: Promise.resolve(apiSession) };
  }
  const session = await oidcLogin({
    controller: opts.controller,
    fetch: (request) => fetchFn(request),
    idpToken: opts.idpToken,
    redirectUri: opts.redirectUri,
    configTypes: [...CONFIG_TYPES],
  });
  const receivedAt = Date.now();
  const client = new ControllerClient({
    baseUrl: opts.controller,
    fetch: fetchFn,
    accessToken: session.accessToken,
  });
  return {
    identityId: session.identityId,
    client,
    apiSession: client
      .currentIdentity()
      .then((me) => storedOidcSession(session, me.name, receivedAt)),
  };
}

/**
 * The next access token for an OIDC session (the refresh token is spent by this call: store the
 * result before anything else uses the old one). Throws ZitiOidcError `token-refused` when the
 * controller no longer takes the refresh token (then only a new login helps).
 */
export async function refreshApiSession(
  controller: string,
  apiSession: StoredApiSession,
  fetchFn: FetchLike = (request) => fetch(request),
): Promise<StoredApiSession> {
  const o = apiSession.oidc;
  if (!o) throw new TypeError('a legacy API session has no token to refresh');
  const next = await oidcRefresh({
    controller,
    fetch: fetchFn,
    session: {
      accessToken: apiSession.token,
      refreshToken: o.refreshToken,
      expiresAt: new Date(o.expiresAt),
      apiSessionId: apiSession.id,
      identityId: apiSession.identityId,
    },
  });
  return storedOidcSession(next, apiSession.identityName);
}
