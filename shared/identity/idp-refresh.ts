import type * as OAuth from 'oauth4webapi';
import { jwtHeader } from '../ziti/controller/oidc-session.ts';
import { httpOptions } from './oauth-http.ts';
import type { IdpTokens } from './store.ts';

/**
 * Uses the refresh token, if the IdP gave one, to get a fresh token without a new login. The OAuth
 * library loads on the first refresh, not with the service worker (the worker's build makes it a
 * part of its own, `sw/worker-parts.ts`): most starts of the worker never refresh.
 */
export async function refreshTokens(tokens: IdpTokens): Promise<IdpTokens | undefined> {
  if (!tokens.refreshToken) return undefined;
  const { allowInsecureRequests, None, processRefreshTokenResponse, refreshTokenGrantRequest } =
    await import('oauth4webapi');
  const algs = idTokenAlgs(tokens);
  const as: OAuth.AuthorizationServer = {
    issuer: tokens.issuer,
    token_endpoint: tokens.tokenEndpoint,
    ...(algs ? { id_token_signing_alg_values_supported: algs } : {}),
  };
  const client = { client_id: tokens.clientId };
  const response = await refreshTokenGrantRequest(
    as,
    client,
    None(),
    tokens.refreshToken,
    httpOptions(new URL(tokens.tokenEndpoint), allowInsecureRequests),
  );
  const result = await processRefreshTokenResponse(as, client, response);
  const presented = tokens.targetToken === 'ID' ? result.id_token : result.access_token;
  if (!presented) return undefined;
  return {
    ...tokens,
    presented,
    accessToken: result.access_token,
    ...(result.id_token ? { idToken: result.id_token } : {}),
    ...(result.refresh_token ? { refreshToken: result.refresh_token } : {}),
    expiresAt: Date.now() + (result.expires_in ?? 300) * 1000,
  };
}

/**
 * What a refreshed ID token may be signed with: what the IdP's metadata said at login, or for
 * tokens kept before that was stored, the algorithm of the ID token the login checked. Without
 * either the library would insist on RS256 (its default), and refuse an IdP that signs with
 * anything else.
 */
function idTokenAlgs(tokens: IdpTokens): string[] | undefined {
  if (tokens.idTokenAlgs?.length) return tokens.idTokenAlgs;
  const alg = tokens.idToken ? jwtHeader(tokens.idToken)?.alg : undefined;
  return typeof alg === 'string' ? [alg] : undefined;
}
