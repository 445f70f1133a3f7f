/**
 * Controller client against a fake controller that answers in the recorded shapes of reference §1
 * and §11; the CA bundle comes from OpenSSL (`crl2pkcs7`), an independent PKCS#7 producer.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZitiApiError, ZitiApiResponseError } from '../errors.ts';
import { ControllerClient } from './client.ts';
import {
  controllerSupportsOidc,
  pickEdgeRouter,
  rankEdgeRouters,
  routerWebSocketUrl,
} from './pick-router.ts';
import { processApiSessionResponse, processCaCertsResponse, processEnvelope } from './responses.ts';

const BASE = 'https://ctrl.example:1280';
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const ok = (data: unknown, meta: unknown = {}) => json(200, { data, meta });

const apiSession = {
  id: 'as-1',
  token: '3367312a-3876-4a02-8d84-411cb4a8080b',
  identityId: 'id-1',
  identity: { id: 'id-1', name: 'alice' },
  authQueries: [],
  expirationSeconds: 1800,
  createdAt: '2026-11-26T10:00:00Z',
};
const routers = [
  {
    name: 'er-far',
    hostname: 'er2',
    isOnline: true,
    cost: 20,
    supportedProtocols: { wss: 'wss://er2:3023', tls: 'tls://er2:3022' },
  },
  {
    name: 'er-down',
    hostname: 'er3',
    isOnline: false,
    cost: 0,
    supportedProtocols: { wss: 'wss://er3:3023' },
  },
  {
    name: 'er-tls-only',
    hostname: 'er4',
    isOnline: true,
    cost: 0,
    supportedProtocols: { tls: 'tls://er4:3022' },
  },
  { name: 'er-near', hostname: 'er1', isOnline: true, cost: 5, urls: { wss: 'wss://er1:3023' } },
];

interface Seen {
  method: string;
  url: URL;
  headers: Headers;
  body: unknown;
}

function fakeController(p7b: string) {
  const seen: Seen[] = [];
  const services = Array.from({ length: 250 }, (_, i) => ({
    id: `svc-${i}`,
    name: `service-${i}`,
    permissions: ['Dial'],
    encryptionRequired: i % 2 === 0,
    config: {
      'intercept.v1': {
        protocols: ['tcp'],
        addresses: [`app${i}.ziti`],
        portRanges: [{ low: 80, high: 80 }],
      },
    },
  }));
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    const text = await req.text();
    seen.push({
      method: req.method,
      url,
      headers: req.headers,
      body: text ? JSON.parse(text) : undefined,
    });
    const authed = req.headers.get('zt-session') === apiSession.token;
    const path = url.pathname;
    if (path === '/.well-known/est/cacerts')
      return new Response(p7b, { headers: { 'content-type': 'application/pkcs7-mime' } });
    if (!path.startsWith('/edge/client/v1/'))
      return json(404, { error: { code: 'NOT_FOUND', message: 'nope' }, meta: {} });
    const route = `${req.method} ${path.slice('/edge/client/v1'.length)}`;
    switch (route) {
      case 'GET /version':
        return ok({
          version: 'v2.1.0',
          revision: 'abc',
          buildDate: '2026-08-22',
          runtimeVersion: 'go1.24',
          apiVersions: {
            'edge-client': { v1: { path: '/edge/client/v1' } },
            'edge-oidc': { v1: { path: '/oidc' } },
          },
          capabilities: ['OIDC_AUTH', 'OIDC_AUTH_WITH_CSR'],
        });
      case 'GET /external-jwt-signers':
        return ok([
          {
            id: 'sig-1',
            name: 'corp-idp',
            clientId: 'zt',
            scopes: ['openid'],
            targetToken: 'ACCESS',
          },
        ]);
      case 'POST /authenticate': {
        const method = url.searchParams.get('method');
        if (method === 'ext-jwt' && req.headers.get('authorization') === 'Bearer idp.jwt.token') {
          return ok(apiSession);
        }
        if (method === 'password') {
          const b = JSON.parse(text) as { username: string; password: string };
          if (b.username === 'alice' && b.password === 'secret') return ok(apiSession);
        }
        return json(401, {
          error: {
            code: 'INVALID_AUTH',
            message: 'The authentication request failed',
            requestId: 'req-9',
          },
          meta: { apiVersion: '0.0.1' },
        });
      }
    }
    if (!authed)
      return json(401, { error: { code: 'UNAUTHORIZED', message: 'not authorized' }, meta: {} });
    switch (route) {
      case 'GET /current-api-session':
        return ok(apiSession);
      case 'DELETE /current-api-session':
        return ok({});
      case 'POST /current-api-session/certificates':
        return json(201, {
          data: {
            id: 'cert-1',
            certificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
            cas: '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n',
            _links: {},
          },
          meta: {},
        });
      case 'GET /services': {
        const limit = Number(url.searchParams.get('limit'));
        const offset = Number(url.searchParams.get('offset'));
        return ok(services.slice(offset, offset + limit), {
          pagination: { limit, offset, totalCount: services.length },
        });
      }
      case 'POST /sessions': {
        const b = JSON.parse(text) as { serviceId: string; type: string };
        if (b.serviceId === 'svc-none') {
          return json(400, {
            error: { code: 'NO_EDGE_ROUTERS_AVAILABLE', message: 'no edge routers' },
            meta: {},
          });
        }
        return json(201, {
          data: {
            id: 'sess-1',
            token: 'eyJhbGciOi.session.jwt',
            type: b.type,
            serviceId: b.serviceId,
            apiSessionId: 'as-1',
            edgeRouters: routers,
          },
          meta: {},
        });
      }
      case 'GET /services/svc-1/edge-routers':
        return ok({ edgeRouters: routers });
    }
    return json(404, { error: { code: 'NOT_FOUND', message: route }, meta: {} });
  };
  return { seen, fetch: fetchImpl as typeof fetch };
}

let dir: string;
let p7b: string;
let certPems: string[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ziti-ca-'));
  certPems = [];
  for (const name of ['root', 'intermediate']) {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${name}`,
        '-keyout',
        join(dir, `${name}.key`),
        '-out',
        join(dir, `${name}.pem`),
      ],
      { stdio: 'ignore' },
    );
    certPems.push(readFileSync(join(dir, `${name}.pem`), 'utf8'));
  }
  // The controller's format: base64 of a degenerate PKCS#7, 64-character lines, no PEM armour.
  const der = execFileSync('openssl', [
    'crl2pkcs7',
    '-nocrl',
    '-certfile',
    join(dir, 'root.pem'),
    '-certfile',
    join(dir, 'intermediate.pem'),
    '-outform',
    'DER',
  ]);
  p7b = `${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n`;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const body = (pem: string) => pem.replace(/-----[^-]+-----|\s+/g, '');

describe('ControllerClient', () => {
  it('reads /version and the external JWT signers without credentials', async () => {
    const ctrl = fakeController(p7b);
    const client = new ControllerClient({ baseUrl: BASE, fetch: ctrl.fetch });
    const v = await client.version();
    expect(v.capabilities).toEqual(['OIDC_AUTH', 'OIDC_AUTH_WITH_CSR']);
    expect(v.apiVersions['edge-oidc']?.v1?.path).toBe('/oidc');
    expect(controllerSupportsOidc(v)).toBe(true);
    expect(controllerSupportsOidc({ ...v, apiVersions: {} })).toBe(false);
    expect(controllerSupportsOidc({ ...v, capabilities: [] })).toBe(false);
    const signers = await client.externalJwtSigners();
    expect(signers[0]).toMatchObject({ id: 'sig-1', targetToken: 'ACCESS' });
    for (const s of ctrl.seen) {
      expect(s.method).toBe('GET');
      expect(s.headers.get('accept')).toBe('application/json');
      expect(s.headers.has('zt-session') || s.headers.has('authorization')).toBe(false);
    }
    expect(ctrl.seen.map((s) => s.url.pathname)).toEqual([
      '/edge/client/v1/version',
      '/edge/client/v1/external-jwt-signers',
    ]);
  });

  it('authenticates with ext-jwt (Bearer, no zt-session), then uses zt-session', async () => {
    const ctrl = fakeController(p7b);
    const client = new ControllerClient({ baseUrl: BASE, fetch: ctrl.fetch });
    const session = await client.authenticateExtJwt('idp.jwt.token', {
      configTypes: ['intercept.v1'],
    });
    expect(session.token).toBe(apiSession.token);
    const auth = ctrl.seen[0]!;
    expect(auth.url.search).toBe('?method=ext-jwt');
    expect(auth.headers.get('authorization')).toBe('Bearer idp.jwt.token');
    expect(auth.headers.has('zt-session')).toBe(false);
    expect(auth.headers.get('content-type')).toBe('application/json');
    expect(auth.body).toEqual({ configTypes: ['intercept.v1'] });

    expect((await client.currentApiSession()).id).toBe('as-1');
    const next = ctrl.seen[1]!;
    expect(next.headers.get('zt-session')).toBe(apiSession.token);
    expect(next.headers.has('authorization')).toBe(false);

    await client.deleteApiSession();
    expect(ctrl.seen[2]!.method).toBe('DELETE');
    const err = await client.currentApiSession().catch((e) => e);
    expect(err).toBeInstanceOf(ZitiApiError);
    expect(err.code).toBe('UNAUTHORIZED');
  });

  it('maps the {error} envelope to ZitiApiError with code, status and requestId', async () => {
    const ctrl = fakeController(p7b);
    const client = new ControllerClient({ baseUrl: BASE, fetch: ctrl.fetch });
    const err = await client.authenticatePassword('alice', 'wrong').catch((e) => e);
    expect(err).toBeInstanceOf(ZitiApiError);
    expect(err).toMatchObject({ code: 'INVALID_AUTH', status: 401, requestId: 'req-9' });
    expect(ctrl.seen[0]!.body).toEqual({ username: 'alice', password: 'wrong' });
    await expect(client.authenticatePassword('alice', 'secret')).resolves.toMatchObject({
      id: 'as-1',
    });
  });

  it('creates a session certificate from a CSR', async () => {
    const ctrl = fakeController(p7b);
    const client = new ControllerClient({
      baseUrl: BASE,
      fetch: ctrl.fetch,
      sessionToken: apiSession.token,
    });
    const cert = await client.createSessionCertificate(
      '-----BEGIN CERTIFICATE REQUEST-----\nX\n-----END CERTIFICATE REQUEST-----\n',
    );
    expect(cert.id).toBe('cert-1');
    expect(cert.certificate).toContain('BEGIN CERTIFICATE');
    expect(ctrl.seen[0]!.body).toEqual({
      csr: '-----BEGIN CERTIFICATE REQUEST-----\nX\n-----END CERTIFICATE REQUEST-----\n',
    });
  });

  it('pages through /services with limit/offset and passes configTypes and filter', async () => {
    const ctrl = fakeController(p7b);
    const client = new ControllerClient({
      baseUrl: BASE,
      fetch: ctrl.fetch,
      sessionToken: apiSession.token,
    });
    const services = await client.services({
      configTypes: ['intercept.v1', 'host.v1'],
      filter: 'name contains "service"',
    });
    expect(services).toHaveLength(250);
    expect(services[249]!.name).toBe('service-249');
    expect(services[0]!.encryptionRequired).toBe(true);
    expect(ctrl.seen.map((s) => s.url.searchParams.get('offset'))).toEqual(['0', '100', '200']);
    for (const s of ctrl.seen) {
      expect(s.url.searchParams.get('limit')).toBe('100');
      // Repeated, never comma-joined: the client API does not split commas (§1.7).
      expect(s.url.searchParams.getAll('configTypes')).toEqual(['intercept.v1', 'host.v1']);
      expect(s.url.searchParams.get('filter')).toBe('name contains "service"');
    }
  });

  it('creates a Dial session and picks the online wss router with the lowest cost', async () => {
    const ctrl = fakeController(p7b);
    const client = new ControllerClient({
      baseUrl: BASE,
      fetch: ctrl.fetch,
      sessionToken: apiSession.token,
    });
    const session = await client.createSession('svc-1', 'Dial');
    expect(ctrl.seen[0]!.body).toEqual({ serviceId: 'svc-1', type: 'Dial' });
    expect(session.token).toBe('eyJhbGciOi.session.jwt');
    const picked = pickEdgeRouter(session.edgeRouters, 'wss');
    expect(picked).toEqual({ router: routers[3], url: 'wss://er1:3023' });
    expect(rankEdgeRouters(session.edgeRouters, 'wss').map((r) => r.router.name)).toEqual([
      'er-near',
      'er-far',
    ]);
    expect(pickEdgeRouter(session.edgeRouters, 'tls')?.router.name).toBe('er-tls-only');
    expect(pickEdgeRouter(session.edgeRouters, 'ws')).toBeUndefined();
    expect(routerWebSocketUrl(picked!.url)).toBe('wss://er1:3023/ws');
    expect((await client.serviceEdgeRouters('svc-1')).map((r) => r.name)).toEqual(
      routers.map((r) => r.name),
    );
    const err = await client.createSession('svc-none', 'Dial').catch((e) => e);
    expect(err).toMatchObject({ code: 'NO_EDGE_ROUTERS_AVAILABLE', status: 400 });
  });

  it('turns the base64 PKCS#7 CA bundle into PEM certificates', async () => {
    const ctrl = fakeController(p7b);
    const client = new ControllerClient({ baseUrl: `${BASE}/`, fetch: ctrl.fetch });
    const pems = await client.caBundle();
    expect(ctrl.seen[0]!.url.pathname).toBe('/.well-known/est/cacerts');
    expect(pems).toHaveLength(2);
    expect(pems.map(body).sort()).toEqual(certPems.map(body).sort());
    for (const p of pems) expect(p).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
  });
});

describe('response processors on hand-made responses', () => {
  it('rejects non-JSON, missing data and missing token with ZitiApiResponseError', async () => {
    await expect(
      processEnvelope(new Response('<html>', { status: 502 }), 'GET /x'),
    ).rejects.toBeInstanceOf(ZitiApiResponseError);
    await expect(processEnvelope(json(200, { meta: {} }), 'GET /x')).rejects.toBeInstanceOf(
      ZitiApiResponseError,
    );
    await expect(processEnvelope(json(500, { oops: 1 }), 'GET /x')).rejects.toMatchObject({
      status: 500,
    });
    await expect(processApiSessionResponse(ok({ id: 'x' }), 'GET /x')).rejects.toBeInstanceOf(
      ZitiApiResponseError,
    );
    await expect(
      processApiSessionResponse(ok({ id: 'x', token: 't' }), 'GET /x'),
    ).resolves.toMatchObject({
      token: 't',
    });
  });
  it('an error envelope wins even with status 200 (the browser client reads only the body)', async () => {
    await expect(
      processEnvelope(
        json(200, { error: { code: 'RATE_LIMITED', message: 'slow down' } }),
        'GET /x',
      ),
    ).rejects.toMatchObject({
      code: 'RATE_LIMITED',
      status: 200,
    });
  });
  it('rejects a CA bundle that is not PKCS#7', async () => {
    await expect(
      processCaCertsResponse(new Response('bm90IHBrY3M3'), 'GET /x'),
    ).rejects.toBeInstanceOf(ZitiApiResponseError);
  });
});
