import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CLIENT_API,
  type FakeController,
  fakeController,
} from '../../shared/identity/_test/fake-controller.ts';
import { tokenRefreshDue } from '../../shared/identity/api-session.ts';
import { createSessionKey, parseCertificateChain } from '../../shared/identity/session-key.ts';
import type { StoredIdentity } from '../../shared/identity/store.ts';
import { ZitiControllerUnreachableError } from '../../shared/ziti/index.ts';
import { maintainIdentity, renewalDue } from './lifecycle.ts';

// IndexedDB is the browser's: the store is replaced by a record of what was saved.
const saved = vi.hoisted(() => [] as unknown[]);
vi.mock('../../shared/identity/store.ts', () => ({
  saveIdentity: async (identity: unknown) => {
    saved.push(identity);
  },
}));

const MIN = 60_000;
const HOUR = 60 * MIN;
const IDP_TOKEN = 'idp-token-1';

let keyPair: CryptoKeyPair;
beforeAll(async () => {
  keyPair = await createSessionKey();
});

let c: FakeController;
beforeEach(() => {
  saved.length = 0;
  c = fakeController({ idpTokens: [IDP_TOKEN] });
  vi.stubGlobal('fetch', c.fetch);
  vi.stubGlobal('location', new URL('https://site.example/app/page'));
});
afterEach(() => {
  vi.unstubAllGlobals();
});

/** A certificate whose renewal is not due (its 2/3 point is hours away) unless `due`. */
const certificateWindow = (due: boolean) => {
  const now = Date.now();
  return due
    ? { certificateNotBefore: now - 3 * HOUR, certificateNotAfter: now + HOUR }
    : { certificateNotBefore: now - HOUR, certificateNotAfter: now + 23 * HOUR };
};

function identityWith(
  apiSession: StoredIdentity['apiSession'],
  o: { certificateDue?: boolean; idp?: boolean } = {},
): StoredIdentity {
  const now = Date.now();
  return {
    version: 1,
    controller: c.baseUrl,
    config: { controller: c.baseUrl, service: 'demo' } as StoredIdentity['config'],
    apiSession,
    keyPair,
    certificates: ['-----BEGIN CERTIFICATE-----\nold\n-----END CERTIFICATE-----'],
    ...certificateWindow(o.certificateDue ?? false),
    caBundle: [],
    ...(o.idp === false
      ? {}
      : {
          idp: {
            presented: IDP_TOKEN,
            accessToken: IDP_TOKEN,
            expiresAt: now + HOUR,
            issuer: 'https://idp.example',
            clientId: 'zt',
            tokenEndpoint: 'https://idp.example/token',
            targetToken: 'ACCESS' as const,
          },
        }),
    enrolledAt: now - HOUR,
  };
}

/** An OIDC API session the controller issued `ageMs` ago (a 30-minute token: due at 20). */
function oidcIdentity(ageMs: number, o: Parameters<typeof identityWith>[1] = {}) {
  const issued = c.issueOidc('asid-1');
  const receivedAt = Date.now() - ageMs;
  return identityWith(
    {
      token: issued.access,
      id: 'asid-1',
      identityId: 'identity-1',
      identityName: 'alice',
      oidc: { refreshToken: issued.refresh, receivedAt, expiresAt: receivedAt + 30 * MIN },
    },
    o,
  );
}

/** A legacy API session; `known` whether the controller still has it. */
function legacyIdentity(known: boolean, o: Parameters<typeof identityWith>[1] = {}) {
  const token = crypto.randomUUID();
  if (known) c.state.legacy.set(token, 'legacy-session-1');
  return identityWith(
    { token, id: 'legacy-session-1', identityId: 'identity-1', identityName: 'alice' },
    o,
  );
}

/** The identity's certificate is one the controller issued for the identity's own key. */
async function expectNewCertificate(identity: StoredIdentity, auth: 'bearer' | 'zt-session') {
  expect(c.state.certificates).toHaveLength(1);
  const issued = c.state.certificates[0]!;
  expect(issued.auth).toBe(auth);
  expect(issued.apiSession).toBe(identity.apiSession.id);
  const spki = Buffer.from(await crypto.subtle.exportKey('spki', keyPair.publicKey));
  expect(issued.csrPublicKey).toBe(spki.toString('base64'));
  const parsed = parseCertificateChain(issued.pem);
  expect(identity.certificates).toEqual(parsed.chain);
  expect(identity.certificateNotBefore).toBe(parsed.notBefore);
  expect(identity.certificateNotAfter).toBe(parsed.notAfter);
  expect(renewalDue(identity)).toBeGreaterThan(Date.now());
}

describe('maintainIdentity, OIDC', () => {
  it('a token not yet due: fresh, and the controller is not asked', async () => {
    const identity = oidcIdentity(10 * MIN);
    const before = c.state.seen.length;
    expect(await maintainIdentity(identity)).toEqual({ outcome: 'fresh', identity });
    expect(c.state.seen.length).toBe(before);
    expect(saved).toEqual([]);
  });

  it('a token due: refreshed-token, the next token and refresh token saved before use', async () => {
    const identity = oidcIdentity(21 * MIN);
    const { outcome, identity: next } = await maintainIdentity(identity);
    expect(outcome).toBe('refreshed-token');
    expect(c.calls('/oidc/oauth/token')).toHaveLength(1);
    expect(next.apiSession.token).not.toBe(identity.apiSession.token);
    expect(c.state.access.get(next.apiSession.token)).toBe('asid-1');
    expect(next.apiSession.oidc!.refreshToken).not.toBe(identity.apiSession.oidc!.refreshToken);
    expect(c.state.refresh.has(next.apiSession.oidc!.refreshToken)).toBe(true);
    expect(tokenRefreshDue(next.apiSession)).toBeGreaterThan(Date.now() + 19 * MIN);
    // Same API session, same certificate: only the token changed.
    expect(next).toEqual({
      ...identity,
      apiSession: {
        ...identity.apiSession,
        token: next.apiSession.token,
        oidc: next.apiSession.oidc,
      },
    });
    expect(saved).toEqual([next]);
  });

  it('a router or the controller refused the session: the token is refreshed although not due', async () => {
    const identity = oidcIdentity(10 * MIN);
    const { outcome, identity: next } = await maintainIdentity(identity, Date.now(), true);
    expect(outcome).toBe('refreshed-token');
    expect(c.calls('/oidc/oauth/token')).toHaveLength(1);
    expect(next.apiSession.id).toBe(identity.apiSession.id);
    expect(next.apiSession.token).not.toBe(identity.apiSession.token);
    expect(saved).toEqual([next]);
  });

  it('a refused refresh token: a new login with the IdP token, a new API session and certificate', async () => {
    const identity = oidcIdentity(25 * MIN);
    c.state.refresh.clear(); // the controller no longer takes it (expired, revoked)
    const { outcome, identity: next } = await maintainIdentity(identity);
    expect(outcome).toBe('re-authenticated');
    const [loginCall] = c.calls('/oidc/login/ext-jwt');
    expect(loginCall!.headers.get('authorization')).toBe(`Bearer ${IDP_TOKEN}`);
    // The redirect URI is the site's OIDC callback on this worker's origin.
    expect(c.calls('/oidc/authorize')[0]!.url.searchParams.get('redirect_uri')).toBe(
      'https://site.example/__zt/oidc-callback',
    );
    expect(next.apiSession.id).not.toBe('asid-1');
    expect(next.apiSession).toMatchObject({ identityId: 'identity-1', identityName: 'alice' });
    expect(c.state.access.get(next.apiSession.token)).toBe(next.apiSession.id);
    expect(c.state.refresh.get(next.apiSession.oidc!.refreshToken)).toBe(next.apiSession.id);
    await expectNewCertificate(next, 'bearer');
    expect(saved).toEqual([next]);
  });

  it('a refused refresh token and no IdP token: expired, nothing saved', async () => {
    const identity = oidcIdentity(25 * MIN, { idp: false });
    c.state.refresh.clear();
    expect(await maintainIdentity(identity)).toEqual({
      outcome: 'expired',
      identity,
      why: 'no IdP token was kept to sign in again with',
    });
    expect(c.calls('/oidc/authorize')).toEqual([]);
    expect(saved).toEqual([]);
  });

  it('an IdP token the controller refuses too: expired', async () => {
    const identity = oidcIdentity(25 * MIN);
    c.state.refresh.clear();
    const { outcome } = await maintainIdentity({
      ...identity,
      idp: { ...identity.idp!, presented: 'revoked-idp-token' },
    });
    expect(outcome).toBe('expired');
    expect(c.calls('/oidc/login/ext-jwt')).toHaveLength(1);
    expect(saved).toEqual([]);
  });

  it('an expired IdP token the IdP does not refresh: expired, saying why', async () => {
    const identity = oidcIdentity(25 * MIN);
    c.state.refresh.clear();
    const { outcome, why } = await maintainIdentity({
      ...identity,
      idp: {
        ...identity.idp!,
        expiresAt: 0,
        refreshToken: 'idp-refresh',
        tokenEndpoint: 'https://idp.example/token', // answered 404 here
      },
    });
    expect(outcome).toBe('expired');
    expect(why).toMatch(/^the IdP did not refresh its token: /);
    expect(c.calls('/oidc/login/ext-jwt')).toEqual([]);
    expect(saved).toEqual([]);
  });

  it('an unreachable controller throws (try later) and changes nothing', async () => {
    const identity = oidcIdentity(25 * MIN);
    c.state.unreachable = true;
    await expect(maintainIdentity(identity)).rejects.toBeInstanceOf(ZitiControllerUnreachableError);
    expect(saved).toEqual([]);
    // Once it answers again the stored refresh token still works.
    c.state.unreachable = false;
    expect((await maintainIdentity(identity)).outcome).toBe('refreshed-token');
  });

  it('a 5xx from before the token endpoint (a proxy, a restart) is try later, not a new login', async () => {
    const identity = oidcIdentity(25 * MIN);
    c.state.tokenStatus = 502;
    await expect(maintainIdentity(identity)).rejects.toMatchObject({ status: 502 });
    expect(c.calls('/oidc/authorize')).toEqual([]);
    expect(saved).toEqual([]);
  });

  it('a re-login the controller cannot answer now throws (try later) instead of expired', async () => {
    const identity = oidcIdentity(25 * MIN);
    c.state.refresh.clear();
    const fetchFn = c.fetch;
    // The refresh is refused; then the controller goes away.
    vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
      const res = await fetchFn(input, init);
      c.state.unreachable = true;
      return res;
    });
    await expect(maintainIdentity(identity)).rejects.toBeInstanceOf(ZitiControllerUnreachableError);
    expect(saved).toEqual([]);
  });

  it('a certificate due: renewed-certificate, asked with the access token as Bearer', async () => {
    const identity = oidcIdentity(5 * MIN, { certificateDue: true });
    const { outcome, identity: next } = await maintainIdentity(identity);
    expect(outcome).toBe('renewed-certificate');
    expect(c.calls('/oidc/oauth/token')).toEqual([]);
    const [call] = c.calls(`${CLIENT_API}/current-api-session/certificates`);
    expect(call!.headers.get('authorization')).toBe(`Bearer ${identity.apiSession.token}`);
    expect(next.apiSession).toEqual(identity.apiSession);
    await expectNewCertificate(next, 'bearer');
    expect(saved).toEqual([next]);
  });

  it('token and certificate both due: the certificate is asked for with the new token', async () => {
    const identity = oidcIdentity(25 * MIN, { certificateDue: true });
    const { outcome, identity: next } = await maintainIdentity(identity);
    expect(outcome).toBe('renewed-certificate');
    expect(next.apiSession.token).not.toBe(identity.apiSession.token);
    const [call] = c.calls(`${CLIENT_API}/current-api-session/certificates`);
    expect(call!.headers.get('authorization')).toBe(`Bearer ${next.apiSession.token}`);
    await expectNewCertificate(next, 'bearer');
    expect(saved.at(-1)).toEqual(next);
  });

  it('a refreshed token is not lost when the certificate renewal then fails', async () => {
    const identity = oidcIdentity(25 * MIN, { certificateDue: true });
    const fetchFn = c.fetch;
    vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
      const req = new Request(input, init);
      if (new URL(req.url).pathname.endsWith('/current-api-session/certificates'))
        throw new TypeError('fetch failed');
      return fetchFn(req);
    });
    // The old refresh token is spent: the caller must get the new one, as the store did.
    const { outcome, identity: next } = await maintainIdentity(identity);
    expect(outcome).toBe('refreshed-token');
    expect(c.state.refresh.has(next.apiSession.oidc!.refreshToken)).toBe(true);
    expect(next.certificates).toEqual(identity.certificates);
    expect(saved).toEqual([next]);
    // The renewal is still due, and happens on the next run.
    vi.stubGlobal('fetch', fetchFn);
    expect((await maintainIdentity(next)).outcome).toBe('renewed-certificate');
  });
});

describe('maintainIdentity, legacy', () => {
  it('a session the controller knows: touched (keep-alive) with zt-session, fresh', async () => {
    const identity = legacyIdentity(true);
    expect(await maintainIdentity(identity)).toEqual({ outcome: 'fresh', identity });
    const [touch] = c.calls(`${CLIENT_API}/current-api-session`);
    expect(touch!.headers.get('zt-session')).toBe(identity.apiSession.token);
    expect(c.calls('/oidc/oauth/token')).toEqual([]);
    expect(saved).toEqual([]);
  });

  it('401: a new legacy session from the IdP token, with a certificate for it', async () => {
    const identity = legacyIdentity(false);
    const { outcome, identity: next } = await maintainIdentity(identity);
    expect(outcome).toBe('re-authenticated');
    const [auth] = c.calls(`${CLIENT_API}/authenticate`);
    expect(auth!.headers.get('authorization')).toBe(`Bearer ${IDP_TOKEN}`);
    expect(c.calls('/oidc/authorize')).toEqual([]);
    expect(next.apiSession.oidc).toBeUndefined();
    expect(c.state.legacy.get(next.apiSession.token)).toBe(next.apiSession.id);
    expect(next.apiSession.identityName).toBe('alice');
    await expectNewCertificate(next, 'zt-session');
    expect(saved).toEqual([next]);
  });

  it('401 and no IdP token: expired', async () => {
    const identity = legacyIdentity(false, { idp: false });
    expect(await maintainIdentity(identity)).toEqual({
      outcome: 'expired',
      identity,
      why: 'no IdP token was kept to sign in again with',
    });
    expect(saved).toEqual([]);
  });

  it('an unreachable controller throws', async () => {
    const identity = legacyIdentity(true);
    c.state.unreachable = true;
    await expect(maintainIdentity(identity)).rejects.toBeInstanceOf(ZitiControllerUnreachableError);
    expect(saved).toEqual([]);
  });

  it('a certificate due: renewed-certificate with zt-session', async () => {
    const identity = legacyIdentity(true, { certificateDue: true });
    const { outcome, identity: next } = await maintainIdentity(identity);
    expect(outcome).toBe('renewed-certificate');
    const [call] = c.calls(`${CLIENT_API}/current-api-session/certificates`);
    expect(call!.headers.get('zt-session')).toBe(identity.apiSession.token);
    await expectNewCertificate(next, 'zt-session');
    expect(saved).toEqual([next]);
  });
});
