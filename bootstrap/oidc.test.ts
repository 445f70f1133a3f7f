/**
 * Choosing the signer and finding its IdP from what a real controller lists (§6.2): no discovery
 * URL, only `externalAuthUrl` (the issuer) and `clientId`. Last, the same against the dev fabric.
 */

import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { RunningFabric } from '../fabric/fabric.ts';
import { startTestFabric } from '../fabric/testing/harness.ts';
import type { PendingLogin } from '../shared/identity/store.ts';
import { ControllerClient } from '../shared/ziti/controller/client.ts';
import {
  beginLogin,
  completeLogin,
  discoverIdp,
  idpOfPending,
  LoginError,
  pickSigner,
  type UsableSigner,
} from './oidc.ts';

const ISSUER = 'https://idp.example/realms/corp';
const corp: UsableSigner = { name: 'corp', clientId: 'zt-chat', externalAuthUrl: `${ISSUER}/` };

function discovery(issuer: string): Response {
  return Response.json({
    issuer,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/certs`,
  });
}

async function loginError(p: Promise<unknown> | (() => unknown)): Promise<LoginError> {
  const err = await (typeof p === 'function' ? Promise.resolve().then(p) : p).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LoginError);
  return err as LoginError;
}

afterEach(() => vi.unstubAllGlobals());

describe('pickSigner', () => {
  const noClient = { name: 'mgmt', externalAuthUrl: ISSUER };
  const noUrl = { name: 'machines', clientId: 'm' };

  it('takes the first signer with a clientId and an externalAuthUrl', () => {
    expect(pickSigner([noClient, noUrl, corp], undefined)).toBe(corp);
  });

  it('takes the named signer, and says why it is unusable', async () => {
    expect(pickSigner([corp, { ...corp, name: 'other' }], 'other').name).toBe('other');
    expect((await loginError(() => pickSigner([corp], 'nope'))).message).toContain('"nope"');
    const err = await loginError(() => pickSigner([corp, noUrl], 'machines'));
    expect(err.code).toBe('ERR_IDP_MISCONFIGURED');
    expect(err.message).toContain('externalAuthUrl');
  });

  it('refuses a list with no usable signer', async () => {
    const err = await loginError(() => pickSigner([noClient, noUrl], undefined));
    expect(err.code).toBe('ERR_IDP_MISCONFIGURED');
  });
});

describe('discoverIdp', () => {
  it('fetches discovery under externalAuthUrl, which must be the issuer', async () => {
    const fetchSpy = vi.fn(async (_url: URL) => discovery(ISSUER));
    vi.stubGlobal('fetch', fetchSpy);
    const idp = await discoverIdp(corp);
    expect(String(fetchSpy.mock.calls[0]![0])).toBe(`${ISSUER}/.well-known/openid-configuration`);
    expect(idp.as.issuer).toBe(ISSUER);
    expect(idp.client.client_id).toBe('zt-chat');
  });

  it('says so when externalAuthUrl is not the issuer', async () => {
    vi.stubGlobal('fetch', async () => discovery('https://elsewhere.example'));
    const err = await loginError(discoverIdp(corp));
    expect(err.code).toBe('ERR_IDP_MISCONFIGURED');
    expect(err.message).toContain(`externalAuthUrl must be the identity provider's issuer`);
  });

  it('tells a bad URL from an unreachable IdP', async () => {
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch');
    });
    expect((await loginError(discoverIdp(corp))).code).toBe('ERR_IDP_UNREACHABLE');
    const bad = await loginError(discoverIdp({ ...corp, externalAuthUrl: 'corp-idp' }));
    expect(bad.code).toBe('ERR_IDP_MISCONFIGURED');
  });
});

describe('the callback', () => {
  const SITE = 'https://site.example';

  it('needs neither the controller nor discovery again: the login keeps the IdP it began with', async () => {
    vi.stubGlobal('location', new URL(`${SITE}/`));
    vi.stubGlobal('fetch', async () => discovery(ISSUER));
    const { pending } = await beginLogin(await discoverIdp(corp), '/app');
    const kept = idpOfPending(structuredClone(pending))!; // as IndexedDB returns it
    expect(kept.as.token_endpoint).toBe(`${ISSUER}/token`);
    expect(kept.client.client_id).toBe('zt-chat');
    expect(kept.signer.name).toBe('corp');
    expect(idpOfPending({ ...pending, idp: undefined })).toBeUndefined();
  });

  it("fetches the IdP's keys while the code is exchanged, not after", async () => {
    vi.stubGlobal('location', new URL(`${SITE}/`));
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' };
    const now = Math.floor(Date.now() / 1000);
    const idToken = await new SignJWT({ nonce: 'n' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience('zt-chat')
      .setSubject('alice')
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(privateKey);
    const seen: string[] = [];
    vi.stubGlobal('fetch', async (input: RequestInfo | URL) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      seen.push(url.pathname);
      if (url.pathname.endsWith('/certs')) return Response.json({ keys: [jwk] });
      // The token endpoint answers only once the keys were asked for (at most 2 s).
      for (let i = 0; i < 200 && !seen.some((p) => p.endsWith('/certs')); i++)
        await new Promise((r) => setTimeout(r, 10));
      seen.push('token answered');
      return Response.json({
        access_token: 'at',
        token_type: 'Bearer',
        expires_in: 300,
        id_token: idToken,
      });
    });
    const pending: PendingLogin = {
      state: 's',
      nonce: 'n',
      codeVerifier: 'v'.repeat(43),
      returnTo: '/',
      signerName: 'corp',
      startedAt: Date.now(),
      forcedLogin: false,
      idp: {
        authorizationServer: {
          issuer: ISSUER,
          authorization_endpoint: `${ISSUER}/auth`,
          token_endpoint: `${ISSUER}/token`,
          jwks_uri: `${ISSUER}/certs`,
        },
        signer: { ...corp, targetToken: 'ID' },
      },
    };
    const tokens = await completeLogin(
      idpOfPending(pending)!,
      pending,
      new URL(`${SITE}/__zt/callback?code=c&state=s`),
    );
    expect(tokens.presented).toBe(idToken);
    expect(seen.indexOf('/realms/corp/certs')).toBeLessThan(seen.indexOf('token answered'));
    expect(seen.filter((p) => p.endsWith('/certs'))).toHaveLength(1);
  });
});

describe('against the dev fabric', () => {
  let fabric: RunningFabric | undefined;
  afterAll(() => fabric?.close());

  it('finds the fabric IdP from its controller signer list', async () => {
    fabric = await startTestFabric();
    const controller = new ControllerClient({ baseUrl: fabric.controller.url });
    const idp = await discoverIdp(pickSigner(await controller.externalJwtSigners(), undefined));
    expect(idp.as.issuer).toBe(fabric.idp.issuer);
    expect(idp.as.code_challenge_methods_supported).toContain('S256');
  });
});
