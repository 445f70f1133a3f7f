import * as oauth from 'oauth4webapi';
import { httpOptions } from '../shared/identity/oauth-http.ts';
import type { IdpTokens } from '../shared/identity/store.ts';

/** No step of the IdP's part of a sign-out may hold the local wipe back for longer than this. */
const IDP_TIMEOUT_MS = 5_000;

/**
 * The IdP's part of a sign-out, where the IdP offers it: the refresh and access tokens are revoked
 * (RFC 7009), so a copy taken from this browser stops working, and the URL that ends the IdP's own
 * session (OpenID RP-Initiated Logout) is returned for the browser to visit last. Best effort: an
 * IdP that is down or refuses must not keep the person signed in here, so nothing here throws.
 */
export async function idpSignOut(
  tokens: IdpTokens | undefined,
  postLogoutRedirectUri: string,
  fetchFn: typeof fetch = fetch,
): Promise<{ revoked: number; endSessionUrl?: string }> {
  if (!tokens) return { revoked: 0 };
  const issuer = new URL(tokens.issuer);
  const options = {
    ...httpOptions(issuer, oauth.allowInsecureRequests),
    [oauth.customFetch]: fetchFn,
    signal: AbortSignal.timeout(IDP_TIMEOUT_MS),
  };
  let as: oauth.AuthorizationServer;
  try {
    as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { ...options, algorithm: 'oidc' }),
    );
  } catch {
    return { revoked: 0 };
  }
  const client = { client_id: tokens.clientId };
  let revoked = 0;
  if (as.revocation_endpoint) {
    for (const token of [tokens.refreshToken, tokens.accessToken]) {
      if (!token) continue;
      try {
        const response = await oauth.revocationRequest(as, client, oauth.None(), token, {
          ...options,
          signal: AbortSignal.timeout(IDP_TIMEOUT_MS),
        });
        await oauth.processRevocationResponse(response);
        revoked++;
      } catch {
        // the IdP refused or is unreachable: the local wipe still happens
      }
    }
  }
  if (!as.end_session_endpoint) return { revoked };
  const end = new URL(as.end_session_endpoint);
  end.searchParams.set('client_id', tokens.clientId);
  end.searchParams.set('post_logout_redirect_uri', postLogoutRedirectUri);
  if (tokens.idToken) end.searchParams.set('id_token_hint', tokens.idToken);
  return { revoked, endSessionUrl: end.href };
}
