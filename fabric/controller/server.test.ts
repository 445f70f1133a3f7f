import { importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as x509 from '../_internal/x509.ts';
import type { RunningFabric } from '../fabric.ts';
import { browzerStyleCsr } from '../testing/csr.ts';
import { startTestFabric, TEST_USER } from '../testing/harness.ts';
import { loginAtIdp } from '../testing/idp-login.ts';
import { normalizeApiPath } from './server.ts';

let fabric: RunningFabric;
let base = '';
let clockOffset = 0;

beforeAll(async () => {
  fabric = await startTestFabric(
    {
      identities: [
        { name: 'developer', password: 'zt-dev-password', roleAttributes: ['users'] },
        { name: 'outsider', password: 'outsider-pass', roleAttributes: [] },
        {
          name: 'disabled-user',
          password: 'disabled-pass',
          roleAttributes: ['users'],
          disabled: true,
        },
        { name: 'tunneler', password: 'tunneler-dev-password', roleAttributes: ['hosts'] },
      ],
      services: [
        {
          name: 'demo',
          roleAttributes: ['demo'],
          target: 'demo-app',
          configs: {
            'intercept.v1': {
              protocols: ['tcp'],
              addresses: ['app.ziti'],
              portRanges: [{ low: 80, high: 80 }],
            },
          },
        },
        ...Array.from({ length: 12 }, (_, i) => ({
          name: `extra-${String(i).padStart(2, '0')}`,
          roleAttributes: ['demo'],
          hosting: 'router',
          configs: { 'host.v1': { protocol: 'tcp', address: '127.0.0.1', port: 9 } },
        })),
      ],
      controller: { host: '127.0.0.1', port: 0, maxBodyBytes: 4096, apiSessionTimeoutSeconds: 60 },
    },
    { now: () => Date.now() + clockOffset },
  );
  base = fabric.controller.url;
});
afterAll(() => fabric?.close());

async function api(path: string, init: RequestInit & { token?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('zt-session', init.token);
  if (init.body !== undefined && !headers.has('content-type'))
    headers.set('content-type', 'application/json');
  const res = await fetch(`${base}${path}`, { ...init, headers });
  const text = await res.text();
  return { res, status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function login(username = TEST_USER.name, password = TEST_USER.password): Promise<string> {
  const r = await api('/edge/client/v1/authenticate?method=password', {
    method: 'POST',
    body: JSON.stringify({ username, password }),
  });
  expect(r.status).toBe(200);
  return r.body.data.token;
}

describe('controller paths and CORS (§1.1)', () => {
  it('maps aliases like client-api.go', () => {
    expect(normalizeApiPath('/edge/client/v1/services')).toBe('/services');
    expect(normalizeApiPath('/edge/v1/services')).toBe('/services');
    expect(normalizeApiPath('/services')).toBe('/services');
    expect(normalizeApiPath('/')).toBe('/version');
    expect(normalizeApiPath('/edge/management/v1/services')).toBeNull();
  });

  it('answers CORS as the real controller: any origin as *, credentials, preflight refusals', async () => {
    const preflight = (method: string | undefined, headers: string) =>
      fetch(`${base}/edge/client/v1/current-api-session`, {
        method: 'OPTIONS',
        headers: {
          origin: 'http://localhost:8080',
          ...(method ? { 'access-control-request-method': method } : {}),
          'access-control-request-headers': headers,
        },
      });
    const res = await preflight('DELETE', 'authorization,content-type,zt-session');
    expect(res.status).toBe(200);
    // `*` with credentials: a browser refuses a credentialed fetch, as against the real controller.
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-allow-headers')).toBe(
      'Authorization,Content-Type,Zt-Session',
    );
    expect(res.headers.get('access-control-allow-methods')).toBe('DELETE');
    expect(res.headers.get('access-control-expose-headers')).toBeNull();
    expect((await preflight(undefined, 'authorization')).status).toBe(400);
    expect((await preflight('OPTIONS', '')).status).toBe(405);
    expect((await preflight('GET', 'x-custom')).status).toBe(403);
    const plain = await fetch(`${base}/version`, { headers: { origin: 'http://localhost:8080' } });
    expect(plain.headers.get('access-control-allow-origin')).toBe('*');
    expect(plain.headers.get('vary')).toBeNull();
    const noOrigin = await fetch(`${base}/version`);
    expect(noOrigin.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('serves /version at the root and under the API with capabilities as an array', async () => {
    for (const p of ['/version', '/edge/client/v1/version', '/']) {
      const r = await api(p);
      expect(r.status).toBe(200);
      expect(Array.isArray(r.body.data.capabilities)).toBe(true);
      expect(r.body.data.apiVersions['edge-client'].v1.path).toBe('/edge/client/v1');
      expect(r.res.headers.get('server')).toMatch(/^ziti-controller\//);
    }
  });

  it('lists the IdP as an external JWT signer without auth', async () => {
    const r = await api('/edge/client/v1/external-jwt-signers');
    expect(r.status).toBe(200);
    const [s] = r.body.data;
    expect(s.externalAuthUrl).toBe(fabric.idp.issuer);
    expect(s.clientId).toBe('zt-browser');
    expect(s.scopes).toContain('openid');
    // Like a real (1.7) controller: no discovery URL; externalAuthUrl is the issuer, discovery
    // under it. (The exact key set is asserted in real-controller-shapes.test.ts.)
    expect(s).not.toHaveProperty('openIdConfigurationUrl');
    const disco = await (
      await fetch(`${s.externalAuthUrl}/.well-known/openid-configuration`)
    ).json();
    expect(disco.issuer).toBe(s.externalAuthUrl);
    expect(disco.code_challenge_methods_supported).toContain('S256');
  });

  it('serves the CA bundle as base64 PKCS#7', async () => {
    const res = await fetch(`${base}/.well-known/est/cacerts`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pkcs7-mime');
    const certs = new x509.X509Certificates();
    certs.import((await res.text()).replace(/\s+/g, ''));
    expect(certs.map((c) => c.subject)).toContain(fabric.pki.root.subject);
  });
});

describe('errors and envelopes (§1.2)', () => {
  it('401 UNAUTHORIZED without or with an unknown zt-session, as an error envelope', async () => {
    for (const token of [undefined, 'd8d3ad8e-0000-4000-8000-000000000000']) {
      const r = await api('/edge/client/v1/services', { token });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('UNAUTHORIZED');
      expect(typeof r.body.error.requestId).toBe('string');
      expect(r.body.meta).toMatchObject({ apiVersion: expect.any(String) });
      expect(r.body.data).toBeUndefined();
    }
  });

  it('400 COULD_NOT_VALIDATE for malformed JSON and for oversized bodies', async () => {
    const bad = await api('/edge/client/v1/authenticate?method=password', {
      method: 'POST',
      body: '{"username":',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('COULD_NOT_VALIDATE');
    const big = await api('/edge/client/v1/authenticate?method=password', {
      method: 'POST',
      body: JSON.stringify({ username: 'developer', password: 'x'.repeat(10_000) }),
    });
    expect(big.status).toBe(400);
    expect(big.body.error.code).toBe('COULD_NOT_VALIDATE');
    expect(big.body.error.causeMessage).toContain('exceeds');
  });

  it('password auth: 401 INVALID_AUTH on a wrong password or a disabled identity; 400 on a short name', async () => {
    const wrong = await api('/authenticate?method=password', {
      method: 'POST',
      body: JSON.stringify({ username: 'developer', password: 'wrong-password' }),
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('INVALID_AUTH');
    const disabled = await api('/authenticate?method=password', {
      method: 'POST',
      body: JSON.stringify({ username: 'disabled-user', password: 'disabled-pass' }),
    });
    expect(disabled.status).toBe(401);
    const short = await api('/authenticate?method=password', {
      method: 'POST',
      body: JSON.stringify({ username: 'dev', password: 'zt-dev-password' }),
    });
    expect(short.status).toBe(400);
    const method = await api('/authenticate?method=magic', { method: 'POST' });
    expect(method.status).toBe(400);
    expect(method.body.error.code).toBe('INVALID_AUTH_METHOD');
  });

  it('404 NOT_FOUND envelope for an unknown route', async () => {
    const token = await login();
    const r = await api('/edge/client/v1/nothing-here', { token });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('NOT_FOUND');
  });
});

describe('ext-jwt (§6.2)', () => {
  const redirectUri = () => `http://127.0.0.1:0/__zt/callback`;
  async function forge(
    claims: Record<string, unknown>,
    header: Record<string, unknown> = {},
    exp = '5m',
  ) {
    const jwk = fabric.idp.signingJwk;
    const key = await importJWK(jwk, 'ES256');
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: jwk.kid, ...header })
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(key);
  }
  async function extJwt(token: string, extraHeaders: Record<string, string> = {}) {
    return api('/edge/client/v1/authenticate?method=ext-jwt', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, ...extraHeaders },
      body: JSON.stringify({ configTypes: ['intercept.v1'], envInfo: { arch: 'x', os: 'y' } }),
    });
  }

  it('accepts a real IdP access token (code + PKCE) and returns the token in the body', async () => {
    const tokens = await loginAtIdp({
      issuer: fabric.idp.issuer,
      clientId: 'zt-browser',
      redirectUri: redirectUri(),
      username: TEST_USER.name,
      password: TEST_USER.password,
    });
    const r = await extJwt(tokens.access_token);
    expect(r.status).toBe(200);
    expect(r.body.data.identity.name).toBe('developer');
    expect(r.body.data.token).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.res.headers.get('zt-session')).toBe(r.body.data.token);
    expect(r.body.data.configTypes).toEqual(['intercept.v1']);
  });

  it('accepts a forged-but-valid token (control for the negative cases)', async () => {
    const ok = await forge({ iss: fabric.idp.issuer, aud: 'openziti', sub: 'developer' });
    expect((await extJwt(ok)).status).toBe(200);
  });

  it.each([
    ['no kid', { iss: 'ISS', aud: 'openziti', sub: 'developer' }, { kid: undefined }, '5m', /kid/],
    [
      'wrong issuer',
      { iss: 'http://evil.example', aud: 'openziti', sub: 'developer' },
      {},
      '5m',
      /issuer/,
    ],
    ['wrong audience', { iss: 'ISS', aud: 'someone-else', sub: 'developer' }, {}, '5m', /aud/],
    ['expired', { iss: 'ISS', aud: 'openziti', sub: 'developer' }, {}, '-1m', /exp/],
    ['unknown subject', { iss: 'ISS', aud: 'openziti', sub: 'nobody' }, {}, '5m', /identity/],
    [
      'disabled identity',
      { iss: 'ISS', aud: 'openziti', sub: 'disabled-user' },
      {},
      '5m',
      /disabled/,
    ],
  ])('401 INVALID_AUTH: %s', async (_name, claims, header, exp, why) => {
    const c = { ...claims, iss: claims.iss === 'ISS' ? fabric.idp.issuer : claims.iss };
    const token = await forge(c, header, exp);
    const r = await extJwt(token);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('INVALID_AUTH');
    expect(r.body.error.causeMessage).toMatch(why);
  });

  it('401 for a token signed by another key with the right kid', async () => {
    const { generateKeyPair } = await import('jose');
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT({ iss: fabric.idp.issuer, aud: 'openziti', sub: 'developer' })
      .setProtectedHeader({ alg: 'ES256', kid: fabric.idp.signingJwk.kid })
      .setExpirationTime('5m')
      .sign(privateKey);
    expect((await extJwt(token)).status).toBe(401);
  });

  it('ignores a zt-session header beside the bearer, as a real controller does (§1.4)', async () => {
    const ok = await forge({ iss: fabric.idp.issuer, aud: 'openziti', sub: 'developer' });
    const r = await extJwt(ok, { 'zt-session': 'anything' });
    expect(r.status).toBe(200);
    expect(r.body.data.identity.name).toBe('developer');
  });
});

describe('API sessions, certificates, services, sessions', () => {
  it('keeps the session alive on use and expires it when idle', async () => {
    const token = await login();
    expect((await api('/current-api-session', { token })).status).toBe(200);
    clockOffset += 45_000;
    // Still alive (45 s < 60 s), and this call refreshes it.
    expect((await api('/current-api-session', { token })).status).toBe(200);
    clockOffset += 45_000;
    expect((await api('/current-api-session', { token })).status).toBe(200);
    clockOffset += 61_000;
    const r = await api('/current-api-session', { token });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('UNAUTHORIZED');
  });

  it('logs out with DELETE /current-api-session', async () => {
    const token = await login();
    expect((await api('/current-api-session', { token, method: 'DELETE' })).status).toBe(200);
    expect((await api('/current-api-session', { token })).status).toBe(401);
  });

  it("signs the browser client's CSR (P-521, empty subject, version 2) with a SPIFFE id", async () => {
    const token = await login();
    const { csrPem } = await browzerStyleCsr();
    const r = await api('/current-api-session/certificates', {
      token,
      method: 'POST',
      body: JSON.stringify({ csr: csrPem }),
    });
    expect(r.status).toBe(201);
    const chain = r.body.data.certificate as string;
    expect(chain.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    const leaf = new x509.X509Certificate(chain);
    const session = (await api('/current-api-session', { token })).body.data;
    const uri = leaf.getExtension(x509.SubjectAlternativeNameExtension)!.names.items[0]!.value;
    expect(uri).toBe(
      `spiffe://zt-test/identity/${session.identityId}/apiSession/${session.id}/apiSessionCertificate/${r.body.data.id}`,
    );
    const hours = (leaf.notAfter.getTime() - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(11.9);
    expect(hours).toBeLessThanOrEqual(12);
    expect(r.body.data.cas).toContain('BEGIN CERTIFICATE');
    const list = await api('/current-api-session/certificates', { token });
    expect(list.body.data.map((c: { id: string }) => c.id)).toContain(r.body.data.id);
  });

  it('rejects a CSR with a bad signature or no CSR at all', async () => {
    const token = await login();
    const { csrPem } = await browzerStyleCsr({ corruptSignature: true });
    const r = await api('/current-api-session/certificates', {
      token,
      method: 'POST',
      body: JSON.stringify({ csr: csrPem }),
    });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('COULD_NOT_PROCESS_CSR');
    const none = await api('/current-api-session/certificates', {
      token,
      method: 'POST',
      body: '{}',
    });
    expect(none.status).toBe(400);
  });

  it('pages services and filters configs by configTypes', async () => {
    const token = await login();
    const p1 = await api('/services?limit=5&offset=0&configTypes=intercept.v1', { token });
    expect(p1.status).toBe(200);
    expect(p1.body.data).toHaveLength(5);
    expect(p1.body.meta.pagination).toEqual({ limit: 5, offset: 0, totalCount: 13 });
    const all: string[] = [];
    for (let offset = 0; offset < 13; offset += 5) {
      const p = await api(`/services?limit=5&offset=${offset}`, { token });
      all.push(...p.body.data.map((s: { name: string }) => s.name));
    }
    expect(new Set(all).size).toBe(13);
    const demo = (
      await api('/services?filter=name%3D%22demo%22&configTypes=intercept.v1', { token })
    ).body.data;
    expect(demo).toHaveLength(1);
    expect(Object.keys(demo[0].config)).toEqual(['intercept.v1']);
    expect(demo[0].permissions).toEqual(['Dial']);
    expect(demo[0].encryptionRequired).toBe(true);
    const allTypes = (await api('/services?filter=name%3D%22demo%22&configTypes=all', { token }))
      .body.data;
    expect(Object.keys(allTypes[0].config).sort()).toEqual(['host.v1', 'intercept.v1']);
    const multi = (
      await api('/services?filter=name%3D%22demo%22&configTypes=host.v1&configTypes=intercept.v1', {
        token,
      })
    ).body.data;
    expect(Object.keys(multi[0].config).sort()).toEqual(['host.v1', 'intercept.v1']);
    // The client API does not split commas: this is one unknown type name (§1.7).
    const joined = (
      await api('/services?filter=name%3D%22demo%22&configTypes=intercept.v1%2Chost.v1', { token })
    ).body.data;
    expect(joined[0].config).toEqual({});
    const bad = await api('/services?filter=weird~stuff', { token });
    expect(bad.status).toBe(400);
  });

  it('POST /sessions: JWT token and router URLs for Dial; 404 without permission', async () => {
    const token = await login();
    const svc = (await api('/services?filter=name%3D%22demo%22', { token })).body.data[0];
    const r = await api('/sessions', {
      token,
      method: 'POST',
      body: JSON.stringify({ serviceId: svc.id, type: 'Dial' }),
    });
    expect(r.status).toBe(201);
    expect(r.body.data.token).toMatch(/^ey/);
    const er = r.body.data.edgeRouters[0];
    // What a real router advertises (§1.8): wss and tls, no plain ws without the dev-only option.
    expect(er.supportedProtocols).toEqual({
      wss: fabric.router.urls.wss,
      tls: fabric.router.urls.tls,
    });
    expect(er.urls).toEqual(er.supportedProtocols);
    expect(er.supportedProtocols.wss).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    expect(er.isOnline).toBe(true);
    const bind = await api('/sessions', {
      token,
      method: 'POST',
      body: JSON.stringify({ serviceId: svc.id, type: 'Bind' }),
    });
    expect(bind.status).toBe(404);
    const outsider = await login('outsider', 'outsider-pass');
    expect((await api('/services', { token: outsider })).body.data).toEqual([]);
    const denied = await api('/sessions', {
      token: outsider,
      method: 'POST',
      body: JSON.stringify({ serviceId: svc.id, type: 'Dial' }),
    });
    expect(denied.status).toBe(404);
    expect(denied.body.error.code).toBe('NOT_FOUND');
    const ers = await api(`/services/${svc.id}/edge-routers`, { token });
    expect(Object.keys(ers.body.data.edgeRouters[0].supportedProtocols).sort()).toEqual([
      'tls',
      'wss',
    ]);
  });

  it('lists no edge routers as null, like a real controller (§1.8)', async () => {
    const token = await login();
    const svc = (await api('/services?filter=name%3D%22demo%22', { token })).body.data[0];
    const routers = [...fabric.state.routers];
    for (const r of routers) fabric.state.unregisterRouter(r.name);
    try {
      const ers = await api(`/services/${svc.id}/edge-routers`, { token });
      expect(ers.status).toBe(200);
      expect(ers.body.data).toEqual({ edgeRouters: null });
    } finally {
      for (const r of routers) fabric.state.registerRouter(r);
    }
  });

  it('accepts exactly what the browser client sends (§11)', async () => {
    const tokens = await loginAtIdp({
      issuer: fabric.idp.issuer,
      clientId: 'zt-browser',
      redirectUri: redirectUriFor(),
      username: TEST_USER.name,
      password: TEST_USER.password,
    });
    const headers = {
      accept: 'application/json',
      'content-type': 'application/json',
      authorization: `Bearer ${tokens.access_token}`,
    };
    expect((await api('/version', { headers })).status).toBe(200);
    const auth = await api('/authenticate?method=ext-jwt', {
      method: 'POST',
      headers,
      body: JSON.stringify({
        configTypes: ['ziti-tunneler-client.v1', 'intercept.v1', 'zrok.proxy.v1'],
        envInfo: { arch: 'x86_64', os: 'Linux' },
        sdkInfo: { type: 'ziti-browzer-core', version: '0.64.2', branch: 'main', revision: 'x' },
      }),
    });
    expect(auth.status).toBe(200);
    const zt = { ...headers, 'zt-session': auth.body.data.token };
    expect((await api('/current-api-session', { headers: zt })).status).toBe(200);
    const svcs = await api('/services?limit=100&configTypes=all', { headers: zt });
    const demo = svcs.body.data.find((s: { name: string }) => s.name === 'demo');
    expect(demo.config['intercept.v1'].addresses).toEqual(['app.ziti']);
    const s = await api('/sessions', {
      method: 'POST',
      headers: zt,
      body: JSON.stringify({ serviceId: demo.id, type: 'Dial' }),
    });
    expect(s.status).toBe(201);
    expect(s.body.data.token).toEqual(expect.any(String));
    expect(s.body.data.edgeRouters[0].hostname).toBe('127.0.0.1');
  });
});

function redirectUriFor(): string {
  return 'http://127.0.0.1:0/__zt/callback';
}
