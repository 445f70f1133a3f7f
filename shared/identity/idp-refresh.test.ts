import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshTokens } from './idp-refresh.ts';
import type { IdpTokens } from './store.ts';

const CLIENT = 'zt-browser';
const b64url = (bytes: Uint8Array | string) =>
  Buffer.from(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes).toString(
    'base64url',
  );

/** An ES256 ID token as an IdP that signs with P-256 issues it. */
async function idToken(issuer: string, key: CryptoKey, sub = 'alice'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64url(JSON.stringify({ alg: 'ES256', kid: 'k1', typ: 'JWT' }))}.${b64url(
    JSON.stringify({ iss: issuer, aud: CLIENT, sub, iat: now, exp: now + 300 }),
  )}`;
  const sig = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    key,
    new TextEncoder().encode(head),
  );
  return `${head}.${b64url(new Uint8Array(sig))}`;
}

describe('refreshTokens (the IdP refresh token grant)', () => {
  let server: Server;
  let issuer: string;
  let key: CryptoKey;
  const grants: URLSearchParams[] = [];

  beforeAll(async () => {
    key = (
      (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
        'sign',
        'verify',
      ])) as CryptoKeyPair
    ).privateKey;
    server = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      grants.push(new URLSearchParams(body));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          access_token: 'new-access',
          token_type: 'Bearer',
          expires_in: 600,
          refresh_token: 'next-refresh',
          id_token: await idToken(issuer, key),
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const stored = async (extra: Partial<IdpTokens> = {}): Promise<IdpTokens> => {
    const first = await idToken(issuer, key);
    return {
      presented: first,
      accessToken: 'old-access',
      idToken: first,
      refreshToken: 'old-refresh',
      expiresAt: 0,
      issuer,
      clientId: CLIENT,
      tokenEndpoint: `${issuer}/token`,
      targetToken: 'ID',
      ...extra,
    };
  };

  it("holds the new ID token to the algorithms the IdP's metadata announced (ES256 here, not the library's RS256)", async () => {
    const before = Date.now();
    const tokens = await refreshTokens(await stored({ idTokenAlgs: ['ES256'] }));
    expect(grants.at(-1)?.get('grant_type')).toBe('refresh_token');
    expect(grants.at(-1)?.get('refresh_token')).toBe('old-refresh');
    expect(tokens?.accessToken).toBe('new-access');
    expect(tokens?.refreshToken).toBe('next-refresh');
    expect(tokens?.presented).toBe(tokens?.idToken);
    expect(tokens?.presented.split('.')).toHaveLength(3);
    expect(tokens?.idTokenAlgs).toEqual(['ES256']);
    expect(tokens?.expiresAt).toBeGreaterThanOrEqual(before + 600_000);
  });

  it('takes the algorithm of the kept ID token when no metadata was kept with it', async () => {
    const tokens = await refreshTokens(await stored());
    expect(tokens?.accessToken).toBe('new-access');
  });

  it('refuses an ID token signed otherwise than the IdP announced', async () => {
    await expect(refreshTokens(await stored({ idTokenAlgs: ['RS256'] }))).rejects.toThrow(/alg/);
  });

  it('gives nothing without a refresh token, and asks nothing', async () => {
    const asked = grants.length;
    expect(await refreshTokens(await stored({ refreshToken: undefined }))).toBeUndefined();
    expect(grants.length).toBe(asked);
  });
});
