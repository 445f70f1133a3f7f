/**
 * What e2e/openziti-conformance.spec.ts found OpenZiti's own controller (ziti v1.7.2) to answer,
 * pinned here so the fabric keeps answering the same: exact key sets of what the browser client
 * reads, routing before authentication (404 / 405), and a zt-session header beside an ext-jwt
 * bearer doing no harm.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningFabric } from '../fabric.ts';
import { startTestFabric, TEST_USER } from '../testing/harness.ts';
import { loginAtIdp } from '../testing/idp-login.ts';

let fabric: RunningFabric;
let token = '';

async function api(path: string, init: RequestInit & { token?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('zt-session', init.token);
  if (init.body !== undefined) headers.set('content-type', 'application/json');
  const res = await fetch(`${fabric.controller.url}/edge/client/v1${path}`, { ...init, headers });
  const text = await res.text();
  return { res, status: res.status, body: text ? JSON.parse(text) : undefined };
}

const keys = (o: object) => Object.keys(o).sort();

beforeAll(async () => {
  fabric = await startTestFabric();
  const r = await api('/authenticate?method=password', {
    method: 'POST',
    body: JSON.stringify({ username: TEST_USER.name, password: TEST_USER.password }),
  });
  token = r.body.data.token;
});
afterAll(() => fabric?.close());

describe('the shapes a real controller sends', () => {
  it('external-jwt-signers: an item has exactly the 1.7 key set', async () => {
    const r = await api('/external-jwt-signers');
    expect(keys(r.body.data[0])).toEqual(
      [
        '_links',
        'audience',
        'clientId',
        'createdAt',
        'externalAuthUrl',
        'id',
        'name',
        'scopes',
        'tags',
        'targetToken',
        'updatedAt',
      ].sort(),
    );
  });

  it('current-api-session (and authenticate): exactly the 1.7 key set', async () => {
    const r = await api('/current-api-session', { token });
    expect(keys(r.body.data)).toEqual(
      [
        '_links',
        'authQueries',
        'authenticatorId',
        'cachedLastActivityAt',
        'configTypes',
        'createdAt',
        'expirationSeconds',
        'expiresAt',
        'id',
        'identity',
        'identityId',
        'ipAddress',
        'isCertExtendable',
        'isMfaComplete',
        'isMfaRequired',
        'lastActivityAt',
        'tags',
        'token',
        'updatedAt',
      ].sort(),
    );
  });

  it('edge-router lists: sessions keep urls, the service list has none, the identity list is base entities', async () => {
    const svc = (await api('/services?filter=name%3D%22demo%22', { token })).body.data[0];
    const r = await api('/sessions', {
      token,
      method: 'POST',
      body: JSON.stringify({ serviceId: svc.id, type: 'Dial' }),
    });
    expect(r.status).toBe(201);
    expect(r.body.data).not.toHaveProperty('tags');
    expect(keys(r.body.data.edgeRouters[0])).toEqual(
      [
        'cost',
        'disabled',
        'hostname',
        'isOnline',
        'name',
        'noTraversal',
        'supportedProtocols',
        'syncStatus',
        'urls',
      ].sort(),
    );
    const ers = await api(`/services/${svc.id}/edge-routers`, { token });
    // The service's list has no deprecated `urls`: a client must read supportedProtocols.
    expect(keys(ers.body.data.edgeRouters[0])).toEqual(
      [
        'cost',
        'disabled',
        'hostname',
        'isOnline',
        'name',
        'noTraversal',
        'supportedProtocols',
        'syncStatus',
      ].sort(),
    );
    const mine = await api('/current-identity/edge-routers', { token });
    expect(keys(mine.body.data[0])).toEqual(
      [
        '_links',
        'cost',
        'createdAt',
        'disabled',
        'hostname',
        'id',
        'isOnline',
        'name',
        'noTraversal',
        'supportedProtocols',
        'syncStatus',
        'tags',
        'updatedAt',
      ].sort(),
    );
  });
});

describe('routing before authentication', () => {
  it.each([
    ['an unknown path, with a session', 'GET', '/no-such-thing', true, 404, 'NOT_FOUND'],
    ['an unknown path, without one', 'GET', '/no-such-thing', false, 404, 'NOT_FOUND'],
    ['a wrong method, with a session', 'PUT', '/services', true, 405, 'METHOD_NOT_ALLOWED'],
    ['a wrong method, without one', 'PUT', '/services', false, 405, 'METHOD_NOT_ALLOWED'],
    ['a wrong method on /version', 'DELETE', '/version', false, 405, 'METHOD_NOT_ALLOWED'],
    ['GET /authenticate', 'GET', '/authenticate', false, 405, 'METHOD_NOT_ALLOWED'],
    ['an unknown service', 'GET', '/services/nope', true, 404, 'NOT_FOUND'],
    ['a known path without a session', 'GET', '/services', false, 401, 'UNAUTHORIZED'],
  ] as const)('%s', async (_name, method, path, withSession, status, code) => {
    const r = await api(path, { method, token: withSession ? token : undefined });
    expect(r.status).toBe(status);
    expect(r.body.error.code).toBe(code);
    expect(keys(r.body)).toEqual(['error', 'meta']);
  });
});

describe('ext-jwt authentication', () => {
  it('a stale zt-session header beside the IdP bearer does no harm (§1.4)', async () => {
    const tokens = await loginAtIdp({
      issuer: fabric.idp.issuer,
      clientId: 'zt-browser',
      redirectUri: 'http://127.0.0.1:0/__zt/callback',
      username: TEST_USER.name,
      password: TEST_USER.password,
    });
    const r = await api('/authenticate?method=ext-jwt', {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'zt-session': 'no-such-session' },
      body: '{}',
    });
    expect(r.status).toBe(200);
    expect(r.body.data.identity.name).toBe(TEST_USER.name);
  });
});
