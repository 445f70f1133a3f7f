import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import { CALLBACK_PATH } from '../shared/config/bootstrap-config.ts';
import { httpOptions } from '../shared/identity/oauth-http.ts';
import type { IdpTokens, PendingLogin } from '../shared/identity/store.ts';
import type { ExternalJwtSigner } from '../shared/ziti/controller/types.ts';

/** What the controller's `GET /external-jwt-signers` tells us about the company IdP (reference §6.2). */
export type SignerInfo = Pick<
  ExternalJwtSigner,
  'name' | 'clientId' | 'scopes' | 'externalAuthUrl' | 'targetToken' | 'audience'
>;

/** A signer a browser can log in with: the controller names the IdP's client and its issuer. */
export type UsableSigner = SignerInfo & { clientId: string; externalAuthUrl: string };

const isUsable = (s: SignerInfo): s is UsableSigner => Boolean(s.clientId && s.externalAuthUrl);

export class LoginError extends Error {
  override readonly name = 'LoginError';
  constructor(
    readonly code:
      | 'ERR_IDP_UNREACHABLE'
      | 'ERR_IDP_MISCONFIGURED'
      | 'ERR_LOGIN_REJECTED'
      | 'ERR_TOKEN_INVALID',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface Discovered {
  as: oauth.AuthorizationServer;
  client: oauth.Client;
  signer: UsableSigner;
}

/** The signer named `wanted`, or else the first usable one. */
export function pickSigner<S extends SignerInfo>(
  signers: S[],
  wanted: string | undefined,
): S & UsableSigner {
  const signer = wanted ? signers.find((s) => s.name === wanted) : signers.find(isUsable);
  if (!signer) {
    throw new LoginError(
      'ERR_IDP_MISCONFIGURED',
      wanted
        ? `The controller has no identity provider named "${wanted}".`
        : 'The controller lists no identity provider a browser can log in with (an external-JWT signer with a clientId and an externalAuthUrl).',
    );
  }
  if (!isUsable(signer)) {
    throw new LoginError(
      'ERR_IDP_MISCONFIGURED',
      `The controller's external-JWT signer "${signer.name}" has no clientId or no externalAuthUrl, so the browser cannot log in with it.`,
    );
  }
  return signer;
}

/**
 * OIDC discovery from the signer. A real controller sends no discovery URL: `externalAuthUrl` must
 * be the IdP's issuer, and the discovery document sits under it (reference §6.2).
 */
export async function discoverIdp(signer: UsableSigner): Promise<Discovered> {
  const issuer = signer.externalAuthUrl.replace(/\/+$/, '');
  let configUrl: URL;
  try {
    configUrl = new URL(`${issuer}/.well-known/openid-configuration`);
  } catch (cause) {
    throw new LoginError(
      'ERR_IDP_MISCONFIGURED',
      `The external-JWT signer "${signer.name}" has an externalAuthUrl that is not a URL: "${signer.externalAuthUrl}".`,
      { cause },
    );
  }
  let response: Response;
  try {
    response = await fetch(configUrl, { headers: { accept: 'application/json' } });
  } catch (cause) {
    throw new LoginError(
      'ERR_IDP_UNREACHABLE',
      `The identity provider at ${configUrl.origin} is unreachable.`,
      { cause },
    );
  }
  try {
    const as = await oauth.processDiscoveryResponse(new URL(issuer), response);
    return { as, client: { client_id: signer.clientId }, signer };
  } catch (cause) {
    const hint =
      (cause as { code?: unknown }).code === oauth.JSON_ATTRIBUTE_COMPARISON
        ? ` The signer's externalAuthUrl must be the identity provider's issuer (expected "${issuer}").`
        : '';
    throw new LoginError(
      'ERR_IDP_MISCONFIGURED',
      `The identity provider's discovery document at ${configUrl.href} is invalid: ${(cause as Error).message}.${hint}`,
      { cause },
    );
  }
}

/** Builds the authorization URL (code + PKCE S256) and the state to keep across the redirect. */
export async function beginLogin(
  idp: Discovered,
  returnTo: string,
  forceLogin = false,
): Promise<{ url: URL; pending: PendingLogin }> {
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const endpoint = idp.as.authorization_endpoint;
  if (!endpoint)
    throw new LoginError(
      'ERR_IDP_MISCONFIGURED',
      'The identity provider has no authorization endpoint.',
    );
  const url = new URL(endpoint);
  const scopes = new Set(['openid', ...(idp.signer.scopes ?? [])]);
  url.searchParams.set('client_id', idp.client.client_id);
  url.searchParams.set('redirect_uri', new URL(CALLBACK_PATH, location.origin).href);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', [...scopes].join(' '));
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier));
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', state);
  url.searchParams.set('nonce', nonce);
  // After a sign-out the IdP must authenticate the person again, not reuse its own session.
  if (forceLogin) url.searchParams.set('prompt', 'login');
  return {
    url,
    pending: {
      state,
      nonce,
      codeVerifier,
      returnTo,
      forcedLogin: forceLogin,
      signerName: idp.signer.name,
      startedAt: Date.now(),
      idp: { authorizationServer: idp.as, signer: idp.signer },
    },
  };
}

/** The IdP the login began with, as `beginLogin` kept it (undefined for a row without it). */
export function idpOfPending(pending: PendingLogin): Discovered | undefined {
  if (!pending.idp) return undefined;
  const { authorizationServer, signer } = pending.idp;
  return { as: authorizationServer, client: { client_id: signer.clientId }, signer };
}

/** Exchanges the callback's code for tokens and checks the token we will present with jose. */
export async function completeLogin(
  idp: Discovered,
  pending: PendingLogin,
  callbackUrl: URL,
): Promise<IdpTokens> {
  let params: URLSearchParams;
  try {
    params = oauth.validateAuthResponse(idp.as, idp.client, callbackUrl, pending.state);
  } catch (cause) {
    throw new LoginError(
      'ERR_LOGIN_REJECTED',
      `The identity provider did not complete the login: ${(cause as Error).message}`,
      { cause },
    );
  }
  const redirectUri = new URL(CALLBACK_PATH, location.origin).href;
  const tokenEndpoint = new URL(idp.as.token_endpoint ?? '');
  // The IdP's keys are fetched while the code is exchanged, not after.
  const jwks = idp.as.jwks_uri ? createRemoteJWKSet(new URL(idp.as.jwks_uri)) : undefined;
  jwks?.reload().catch(() => {}); // a failure shows in the check below, which fetches again
  let result: oauth.TokenEndpointResponse;
  try {
    const response = await oauth.authorizationCodeGrantRequest(
      idp.as,
      idp.client,
      oauth.None(),
      params,
      redirectUri,
      pending.codeVerifier,
      httpOptions(tokenEndpoint, oauth.allowInsecureRequests),
    );
    result = await oauth.processAuthorizationCodeResponse(idp.as, idp.client, response, {
      expectedNonce: pending.nonce,
      requireIdToken: true,
    });
  } catch (cause) {
    throw new LoginError(
      'ERR_LOGIN_REJECTED',
      `The identity provider refused the login: ${(cause as Error).message}`,
      { cause },
    );
  }

  const targetToken = idp.signer.targetToken === 'ID' ? 'ID' : 'ACCESS';
  const presented = targetToken === 'ID' ? result.id_token : result.access_token;
  if (!presented)
    throw new LoginError(
      'ERR_TOKEN_INVALID',
      `The identity provider returned no ${targetToken.toLowerCase()} token.`,
    );
  const expiresAt = await verifyPresentedToken(idp, jwks, presented);
  return {
    presented,
    accessToken: result.access_token,
    ...(result.id_token ? { idToken: result.id_token } : {}),
    ...(result.refresh_token ? { refreshToken: result.refresh_token } : {}),
    expiresAt,
    issuer: idp.as.issuer,
    clientId: idp.client.client_id,
    tokenEndpoint: tokenEndpoint.href,
    targetToken,
    ...(idp.as.id_token_signing_alg_values_supported
      ? { idTokenAlgs: idp.as.id_token_signing_alg_values_supported }
      : {}),
  };
}

/**
 * Checks signature (IdP JWKS), issuer, audience and time of the token the controller will see, so a
 * misconfigured IdP fails here with a clear message instead of as a bare 401 from the controller.
 */
async function verifyPresentedToken(
  idp: Discovered,
  jwks: ReturnType<typeof createRemoteJWKSet> | undefined,
  token: string,
): Promise<number> {
  if (!jwks)
    throw new LoginError('ERR_IDP_MISCONFIGURED', 'The identity provider publishes no JWKS.');
  try {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: idp.as.issuer,
      ...(idp.signer.audience ? { audience: idp.signer.audience } : {}),
    });
    if (!protectedHeader.kid)
      throw new Error('the token has no "kid" header, which the controller requires');
    return (payload.exp ?? Math.floor(Date.now() / 1000) + 300) * 1000;
  } catch (cause) {
    throw new LoginError(
      'ERR_TOKEN_INVALID',
      `The identity provider's token is not acceptable: ${(cause as Error).message}`,
      { cause },
    );
  }
}
