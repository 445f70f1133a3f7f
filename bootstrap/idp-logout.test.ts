import { describe, expect, it } from 'vitest';
import type { IdpTokens } from '../shared/identity/store.ts';
import { idpSignOut } from './idp-logout.ts';

const issuer = 'https://idp.example.com';
const tokens: IdpTokens = {
  presented: 'access',
  accessToken: 'access',
  idToken: 'id.token.jwt',
  refreshToken: 'refresh',
  expiresAt: Date.now() + 60_000,
  issuer,
  clientId: 'zt-browser',
  tokenEndpoint: `${issuer}/token`,
  targetToken: 'ACCESS',
};
const back = 'https://chat.example.com/__zt/index.html?signed-out=1';

/** A fake IdP: its discovery document, and what it was asked to revoke. */
function idp(metadata: Record<string, string>, revokeStatus = 200) {
  const revoked: string[] = [];
  const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.pathname === '/.well-known/openid-configuration')
      return Response.json({ issuer, ...metadata });
    if (url.pathname === '/revoke') {
      const body = new URLSearchParams(String(init?.body));
      expect(body.get('client_id')).toBe('zt-browser');
      revoked.push(body.get('token') ?? '');
      return new Response(null, { status: revokeStatus });
    }
    return new Response('not found', { status: 404 });
  }) as typeof fetch;
  return { fetchFn, revoked };
}

describe('idpSignOut', () => {
  it('revokes the refresh and the access token and ends the IdP session where offered', async () => {
    const { fetchFn, revoked } = idp({
      revocation_endpoint: `${issuer}/revoke`,
      end_session_endpoint: `${issuer}/session/end`,
    });
    const result = await idpSignOut(tokens, back, fetchFn);
    expect(revoked).toEqual(['refresh', 'access']);
    expect(result.revoked).toBe(2);
    const end = new URL(result.endSessionUrl!);
    expect(end.origin + end.pathname).toBe(`${issuer}/session/end`);
    expect(Object.fromEntries(end.searchParams)).toEqual({
      client_id: 'zt-browser',
      post_logout_redirect_uri: back,
      id_token_hint: 'id.token.jwt',
    });
  });

  it('an IdP without those endpoints: nothing to revoke, no session to end', async () => {
    const { fetchFn, revoked } = idp({});
    expect(await idpSignOut(tokens, back, fetchFn)).toEqual({ revoked: 0 });
    expect(revoked).toEqual([]);
  });

  it('never throws: a refusing or unreachable IdP leaves the local sign-out to proceed', async () => {
    const refusing = idp({ revocation_endpoint: `${issuer}/revoke` }, 503);
    expect(await idpSignOut(tokens, back, refusing.fetchFn)).toEqual({ revoked: 0 });
    const down = (async () => {
      throw new TypeError('Failed to fetch');
    }) as typeof fetch;
    expect(await idpSignOut(tokens, back, down)).toEqual({ revoked: 0 });
    expect(await idpSignOut(undefined, back, down)).toEqual({ revoked: 0 });
  });
});
