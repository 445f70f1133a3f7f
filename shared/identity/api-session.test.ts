import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningFabric } from '../../fabric/fabric.ts';
import { startTestFabric, TEST_USER } from '../../fabric/testing/harness.ts';
import { loginAtIdp } from '../../fabric/testing/idp-login.ts';
import { CALLBACK_PATH, OIDC_CALLBACK_PATH } from '../config/bootstrap-config.ts';
import { readAccessClaims, ZitiOidcError } from '../ziti/controller/oidc-session.ts';
import { ControllerClient, ZitiApiError, ZitiControllerUnreachableError } from '../ziti/index.ts';
import { CLIENT_API, fakeController, jwt } from './_test/fake-controller.ts';
import {
  ControllerAuthError,
  chooseApiSessionKind,
  controllerAuth,
  login,
  refreshApiSession,
  type StoredApiSession,
  storedOidcSession,
  TOKEN_REFRESH_AT_FRACTION,
  tokenRefreshDue,
} from './api-session.ts';

const REDIRECT = `https://site.example${OIDC_CALLBACK_PATH}`;
const MIN = 60_000;
const HOUR = 60 * MIN;

const legacySession: StoredApiSession = {
  token: '3367312a-3876-4a02-8d84-411cb4a8080b',
  id: 'api-session-1',
  identityId: 'identity-1',
  identityName: 'alice',
};
const oidcSession = (receivedAt: number, expiresAt: number): StoredApiSession => ({
  token: jwt({ sub: 'identity-1', z_asid: 'asid-1', z_t: 'a', aud: ['openziti'], exp: 1 }),
  id: 'asid-1',
  identityId: 'identity-1',
  identityName: 'alice',
  oidc: { refreshToken: 'refresh-1', receivedAt, expiresAt },
});

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

describe('controllerAuth', () => {
  it('sends a legacy session as zt-session and an OIDC one as Authorization: Bearer', async () => {
    expect(controllerAuth(legacySession)).toEqual({ sessionToken: legacySession.token });
    const oidc = oidcSession(0, 1);
    expect(controllerAuth(oidc)).toEqual({ accessToken: oidc.token });
    // What reaches the controller with each.
    const c = fakeController();
    for (const s of [legacySession, oidc])
      await new ControllerClient({ baseUrl: c.baseUrl, fetch: c.fetch, ...controllerAuth(s) })
        .currentIdentity()
        .catch(() => undefined);
    const [legacy, bearer] = c.calls(`${CLIENT_API}/current-identity`);
    expect(legacy!.headers.get('zt-session')).toBe(legacySession.token);
    expect(legacy!.headers.has('authorization')).toBe(false);
    expect(bearer!.headers.get('authorization')).toBe(`Bearer ${oidc.token}`);
    expect(bearer!.headers.has('zt-session')).toBe(false);
  });
});

describe('tokenRefreshDue', () => {
  it('is 2/3 of the access token life on the browser clock', () => {
    const received = Date.UTC(2026, 0, 1, 12);
    expect(TOKEN_REFRESH_AT_FRACTION).toBe(2 / 3);
    expect(tokenRefreshDue(oidcSession(received, received + 30 * MIN))).toBe(received + 20 * MIN);
    expect(tokenRefreshDue(oidcSession(received, received + 90_000))).toBe(received + 60_000);
  });

  it('never comes for a legacy session', () => {
    expect(tokenRefreshDue(legacySession)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('storedOidcSession', () => {
  const NOW = Date.UTC(2026, 5, 1, 8);
  const access = (claims: Record<string, unknown>) =>
    jwt({ sub: 'identity-1', z_asid: 'asid-1', z_t: 'a', aud: ['openziti'], ...claims });
  const session = (accessToken: string, expiresAt: number) => ({
    accessToken,
    refreshToken: 'refresh-1',
    expiresAt: new Date(expiresAt),
    apiSessionId: 'asid-1',
    identityId: 'identity-1',
  });

  it('lays exp - iat on the local clock even when the controller clock is hours off', () => {
    for (const offset of [5 * HOUR, -3 * HOUR, 0]) {
      const iat = Math.floor((NOW + offset) / 1000);
      const token = access({ iat, exp: iat + 1800 });
      const stored = storedOidcSession(session(token, (iat + 1800) * 1000), 'alice', NOW);
      expect(stored).toEqual({
        token,
        id: 'asid-1',
        identityId: 'identity-1',
        identityName: 'alice',
        oidc: { refreshToken: 'refresh-1', receivedAt: NOW, expiresAt: NOW + 30 * MIN },
      });
      expect(tokenRefreshDue(stored)).toBe(NOW + 20 * MIN);
    }
  });

  it('without iat, falls back to the expiry the token gives', () => {
    const exp = Math.floor((NOW + 10 * MIN) / 1000);
    const stored = storedOidcSession(session(access({ exp }), exp * 1000), 'alice', NOW);
    expect(stored.oidc).toMatchObject({ receivedAt: NOW, expiresAt: exp * 1000 });
  });

  it('never has a negative lifetime: an already expired token is due at once', () => {
    const exp = Math.floor((NOW - 10 * MIN) / 1000);
    // No iat, and an iat after exp (nonsense), both fall back to exp, which is past.
    for (const token of [access({ exp }), access({ exp, iat: exp + 60 })]) {
      const stored = storedOidcSession(session(token, exp * 1000), 'alice', NOW);
      expect(stored.oidc).toMatchObject({ receivedAt: NOW, expiresAt: NOW });
      expect(tokenRefreshDue(stored)).toBe(NOW);
    }
  });
});

describe('chooseApiSessionKind', () => {
  const client = (c: ReturnType<typeof fakeController>) =>
    new ControllerClient({ baseUrl: c.baseUrl, fetch: c.fetch });

  it('auto and oidc take OIDC where /version lists OIDC_AUTH and the edge-oidc binding', async () => {
    const c = fakeController({ oidc: true });
    expect(await chooseApiSessionKind('auto', client(c))).toBe('oidc');
    expect(await chooseApiSessionKind('oidc', client(c))).toBe('oidc');
    expect(c.calls(`${CLIENT_API}/version`)).toHaveLength(2);
  });

  it('auto takes legacy from a controller without OIDC, or with the capability but no binding', async () => {
    expect(await chooseApiSessionKind('auto', client(fakeController({ oidc: false })))).toBe(
      'legacy',
    );
    const noBinding = async (input: RequestInfo | URL, init?: RequestInit) => {
      const res = await fakeController({ oidc: true }).fetch(input, init);
      const body = (await res.json()) as { data: { apiVersions: Record<string, unknown> } };
      delete body.data.apiVersions['edge-oidc'];
      return Response.json(body);
    };
    expect(
      await chooseApiSessionKind(
        'auto',
        new ControllerClient({ baseUrl: 'https://ctrl.example:1280', fetch: noBinding }),
      ),
    ).toBe('legacy');
  });

  it('forced oidc on a controller without it fails with a clear ControllerAuthError', async () => {
    const err = await rejection(
      chooseApiSessionKind('oidc', client(fakeController({ oidc: false }))),
    );
    expect(err).toBeInstanceOf(ControllerAuthError);
    expect(err).toMatchObject({ name: 'ControllerAuthError', code: 'ERR_OIDC_UNAVAILABLE' });
    expect((err as Error).message).toContain('"controllerAuth": "oidc"');
    expect((err as Error).message).toContain('OIDC_AUTH');
  });

  it('legacy never asks the controller', async () => {
    const c = fakeController();
    c.state.unreachable = true;
    expect(await chooseApiSessionKind('legacy', client(c))).toBe('legacy');
    expect(c.state.seen).toEqual([]);
  });

  it('an unreachable controller is not taken for one without OIDC', async () => {
    const c = fakeController();
    c.state.unreachable = true;
    expect(await rejection(chooseApiSessionKind('auto', client(c)))).toBeInstanceOf(
      ZitiControllerUnreachableError,
    );
  });
});

describe('login', () => {
  it('legacy: POST /authenticate?method=ext-jwt with the IdP token, a zt-session session', async () => {
    const c = fakeController({ idpTokens: ['idp-1'] });
    const loggedIn = await login({
      controller: c.baseUrl,
      kind: 'legacy',
      idpToken: 'idp-1',
      redirectUri: REDIRECT,
      envInfo: { os: 'web' },
      fetch: c.fetch,
    });
    const { client } = loggedIn;
    const apiSession = await loggedIn.apiSession;
    expect(loggedIn.identityId).toBe('identity-1');
    const [auth] = c.calls(`${CLIENT_API}/authenticate`);
    expect(auth!.url.searchParams.get('method')).toBe('ext-jwt');
    expect(auth!.headers.get('authorization')).toBe('Bearer idp-1');
    expect(JSON.parse(auth!.body)).toMatchObject({
      configTypes: ['intercept.v1', 'host.v1'],
      sdkInfo: { type: 'zt-browser' },
      envInfo: { os: 'web' },
    });
    expect(apiSession).toEqual({
      token: [...c.state.legacy.keys()][0],
      id: [...c.state.legacy.values()][0],
      identityId: 'identity-1',
      identityName: 'alice',
    });
    expect(c.calls('/oidc/authorize')).toEqual([]);
    // The client it returns carries the new session.
    expect(await client.currentIdentity()).toEqual({ id: 'identity-1', name: 'alice' });
    expect(c.calls(`${CLIENT_API}/current-identity`)[0]!.headers.get('zt-session')).toBe(
      apiSession.token,
    );
  });

  it('oidc: the OIDC code flow, the identity name from /current-identity, the life on our clock', async () => {
    // The controller's clock is 4 hours ahead: the refresh is still due 20 minutes from now.
    const c = fakeController({ idpTokens: ['idp-1'], clockOffsetMs: 4 * HOUR });
    const before = Date.now();
    const loggedIn = await login({
      controller: c.baseUrl,
      kind: 'oidc',
      idpToken: 'idp-1',
      redirectUri: REDIRECT,
      fetch: c.fetch,
    });
    const after = Date.now();
    const { client } = loggedIn;
    const apiSession = await loggedIn.apiSession;
    expect(loggedIn.identityId).toBe('identity-1');
    const [loginCall] = c.calls('/oidc/login/ext-jwt');
    expect(loginCall!.headers.get('authorization')).toBe('Bearer idp-1');
    expect(JSON.parse(loginCall!.body)).toMatchObject({ configTypes: ['intercept.v1', 'host.v1'] });
    expect(c.calls('/oidc/authorize')[0]!.url.searchParams.get('redirect_uri')).toBe(REDIRECT);
    expect(c.calls(`${CLIENT_API}/authenticate`)).toEqual([]);
    expect(c.state.access.has(apiSession.token)).toBe(true);
    expect(c.state.refresh.has(apiSession.oidc!.refreshToken)).toBe(true);
    expect(apiSession).toMatchObject({
      id: readAccessClaims(apiSession.token).z_asid,
      identityId: 'identity-1',
      identityName: 'alice',
    });
    const o = apiSession.oidc!;
    expect(o.receivedAt).toBeGreaterThanOrEqual(before);
    expect(o.receivedAt).toBeLessThanOrEqual(after);
    expect(o.expiresAt - o.receivedAt).toBe(30 * MIN);
    expect(tokenRefreshDue(apiSession)).toBe(o.receivedAt + 20 * MIN);
    // /current-identity was asked with the access token, and the client keeps using it.
    const me = c.calls(`${CLIENT_API}/current-identity`);
    expect(me[0]!.headers.get('authorization')).toBe(`Bearer ${apiSession.token}`);
    await client.createSessionCertificate('-----BEGIN CERTIFICATE REQUEST-----').catch(() => {});
    const cert = c.calls(`${CLIENT_API}/current-api-session/certificates`)[0]!;
    expect(cert.headers.get('authorization')).toBe(`Bearer ${apiSession.token}`);
  });

  it('oidc: the login resolves with the identity and a working client before /current-identity answers', async () => {
    const c = fakeController({ idpTokens: ['idp-1'] });
    let answerName: () => void = () => {};
    const named = new Promise<void>((resolve) => {
      answerName = resolve;
    });
    const held: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.pathname === `${CLIENT_API}/current-identity`) await named;
      return c.fetch(input, init);
    };
    const loggedIn = await login({
      controller: c.baseUrl,
      kind: 'oidc',
      idpToken: 'idp-1',
      redirectUri: REDIRECT,
      fetch: held,
    });
    expect(loggedIn.identityId).toBe('identity-1');
    // The certificate is asked while the name is still on its way.
    await loggedIn.client
      .createSessionCertificate('-----BEGIN CERTIFICATE REQUEST-----')
      .catch(() => {});
    expect(c.calls(`${CLIENT_API}/current-api-session/certificates`)).toHaveLength(1);
    expect(c.calls(`${CLIENT_API}/current-identity`)).toEqual([]);
    answerName();
    expect(await loggedIn.apiSession).toMatchObject({
      identityId: 'identity-1',
      identityName: 'alice',
    });
  });

  it('a refused IdP token fails each kind its own way', async () => {
    const c = fakeController({ idpTokens: ['idp-1'] });
    const opts = {
      controller: c.baseUrl,
      idpToken: 'stale',
      redirectUri: REDIRECT,
      fetch: c.fetch,
    };
    const legacy = await rejection(login({ ...opts, kind: 'legacy' }));
    expect(legacy).toBeInstanceOf(ZitiApiError);
    expect(legacy).toMatchObject({ status: 401 });
    const oidc = await rejection(login({ ...opts, kind: 'oidc' }));
    expect(oidc).toBeInstanceOf(ZitiOidcError);
    expect(oidc).toMatchObject({ fault: 'login-refused', status: 401 });
  });
});

describe('refreshApiSession', () => {
  it('gives the next access token of the same API session and stores the new refresh token', async () => {
    const c = fakeController({ clockOffsetMs: -2 * HOUR });
    const issued = c.issueOidc('asid-7');
    const stored: StoredApiSession = {
      token: issued.access,
      id: 'asid-7',
      identityId: 'identity-1',
      identityName: 'Alice at work',
      oidc: { refreshToken: issued.refresh, receivedAt: 1, expiresAt: 2 },
    };
    const before = Date.now();
    const next = await refreshApiSession(c.baseUrl, stored, c.fetch);
    const [form] = c.calls('/oidc/oauth/token').map((s) => new URLSearchParams(s.body));
    expect(Object.fromEntries(form!)).toEqual({
      client_id: 'openziti',
      grant_type: 'refresh_token',
      refresh_token: issued.refresh,
    });
    expect(next.token).not.toBe(issued.access);
    expect(c.state.access.get(next.token)).toBe('asid-7');
    expect(next).toMatchObject({ id: 'asid-7', identityId: 'identity-1' });
    // The name is kept as it was: the controller is not asked for it again.
    expect(next.identityName).toBe('Alice at work');
    expect(c.calls(`${CLIENT_API}/current-identity`)).toEqual([]);
    // The new refresh token is the one to use next; the old one is spent.
    expect(next.oidc!.refreshToken).not.toBe(issued.refresh);
    expect(c.state.refresh.has(next.oidc!.refreshToken)).toBe(true);
    expect(next.oidc!.receivedAt).toBeGreaterThanOrEqual(before);
    expect(next.oidc!.expiresAt - next.oidc!.receivedAt).toBe(30 * MIN);
    const again = await refreshApiSession(c.baseUrl, next, c.fetch);
    expect(again.id).toBe('asid-7');
    const spent = await rejection(refreshApiSession(c.baseUrl, stored, c.fetch));
    expect(spent).toBeInstanceOf(ZitiOidcError);
    expect(spent).toMatchObject({ fault: 'token-refused', oauthError: 'invalid_grant' });
  });

  it('throws for a legacy session, without asking the controller', async () => {
    const c = fakeController();
    expect(await rejection(refreshApiSession(c.baseUrl, legacySession, c.fetch))).toBeInstanceOf(
      TypeError,
    );
    expect(c.state.seen).toEqual([]);
  });
});

describe('login and refreshApiSession against the fabric controller and IdP', () => {
  let fabric: RunningFabric;
  let redirectUri: string;
  const idpToken = async () =>
    (
      await loginAtIdp({
        issuer: fabric.idp.issuer,
        clientId: fabric.config.idp.clientId,
        redirectUri: new URL(CALLBACK_PATH, redirectUri).href,
        username: TEST_USER.name,
        password: TEST_USER.password,
      })
    ).access_token;

  let site: Server;

  beforeAll(async () => {
    // The bootstrap site's OIDC callback (any origin may read it); the fabric controller lists it
    // as a redirect URI for the site's port.
    site = createServer((_req, res) => {
      res.writeHead(200, {
        'access-control-allow-origin': '*',
        'content-type': 'application/json',
      });
      res.end('{}');
    });
    await new Promise<void>((r) => site.listen(0, '127.0.0.1', () => r()));
    const port = (site.address() as AddressInfo).port;
    redirectUri = `http://127.0.0.1:${port}${OIDC_CALLBACK_PATH}`;
    fabric = await startTestFabric({ site: { host: '127.0.0.1', port } });
  });
  afterAll(async () => {
    await fabric?.close();
    await new Promise<void>((r) => site?.close(() => r()));
  });

  it('auto picks OIDC; login, then two refreshes, each token taken by the controller', async () => {
    const controller = fabric.controller.url;
    expect(await chooseApiSessionKind('auto', new ControllerClient({ baseUrl: controller }))).toBe(
      'oidc',
    );
    const apiSession = await (
      await login({ controller, kind: 'oidc', idpToken: await idpToken(), redirectUri })
    ).apiSession;
    expect(apiSession.identityName).toBe(TEST_USER.name);
    expect(apiSession.oidc).toBeDefined();
    const second = await refreshApiSession(controller, apiSession);
    const third = await refreshApiSession(controller, second);
    for (const s of [second, third]) {
      expect(s).toMatchObject({
        id: apiSession.id,
        identityId: apiSession.identityId,
        identityName: TEST_USER.name,
      });
      const me = await new ControllerClient({
        baseUrl: controller,
        ...controllerAuth(s),
      }).currentIdentity();
      expect(me).toEqual({ id: apiSession.identityId, name: TEST_USER.name });
    }
    expect(new Set([apiSession, second, third].map((s) => s.oidc!.refreshToken)).size).toBe(3);
    const reused = await rejection(refreshApiSession(controller, apiSession));
    expect(reused).toMatchObject({ fault: 'token-refused' });
  });

  it('legacy login gives a zt-session the controller takes', async () => {
    const controller = fabric.controller.url;
    const loggedIn = await login({
      controller,
      kind: 'legacy',
      idpToken: await idpToken(),
      redirectUri,
    });
    const { client } = loggedIn;
    const apiSession = await loggedIn.apiSession;
    expect(apiSession.oidc).toBeUndefined();
    expect(apiSession.identityName).toBe(TEST_USER.name);
    expect((await client.currentApiSession()).id).toBe(apiSession.id);
  });
});
