import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningFabric } from '../fabric.ts';
import { startTestFabric, TEST_USER } from '../testing/harness.ts';
import { DEFAULT_REDIRECT_URIS, OIDC_CALLBACK_PATH, redirectUriProblem } from './oidc.ts';

describe('redirectUriProblem: the native-client rules of the real controller', () => {
  const listed = ['https://site.example/__zt/oidc-callback', 'http://127.0.0.1:8080/cb'];

  it('allows a listed https URI and a listed loopback http URI', () => {
    expect(redirectUriProblem(listed, 'https://site.example/__zt/oidc-callback')).toBeUndefined();
    expect(redirectUriProblem(listed, 'http://127.0.0.1:8080/cb')).toBeUndefined();
  });

  it('allows a loopback URI on another port when a listed loopback URI has its path', () => {
    expect(redirectUriProblem(listed, 'http://127.0.0.1:9999/cb')).toBeUndefined();
    expect(redirectUriProblem(listed, 'http://localhost:9999/cb')).toBeUndefined();
    expect(redirectUriProblem(listed, 'http://127.0.0.1:9999/other')).toMatch(/missing/);
  });

  it('refuses an unlisted URI and a listed http one off loopback', () => {
    expect(redirectUriProblem(listed, 'https://evil.example/__zt/oidc-callback')).toMatch(
      /missing in the client configuration/,
    );
    expect(redirectUriProblem(['http://site.example/cb'], 'http://site.example/cb')).toMatch(
      /is http and is not allowed/,
    );
  });

  it('matches the default globs as the real controller lists them', () => {
    expect(redirectUriProblem(DEFAULT_REDIRECT_URIS, 'http://localhost:41234/auth/callback')).toBe(
      undefined,
    );
    expect(redirectUriProblem(DEFAULT_REDIRECT_URIS, 'openziti://auth/callback')).toBeUndefined();
    expect(redirectUriProblem(DEFAULT_REDIRECT_URIS, 'https://site.example/auth/callback')).toMatch(
      /missing/,
    );
  });
});

describe('the fabric controller /oidc', () => {
  let fabric: RunningFabric;
  beforeAll(async () => {
    fabric = await startTestFabric();
  });
  afterAll(async () => {
    await fabric?.close();
  });

  const authorize = (over: Record<string, string | null>) => {
    const q = new URLSearchParams({
      client_id: 'openziti',
      response_type: 'code',
      scope: 'openid offline_access',
      redirect_uri: `http://127.0.0.1:0${OIDC_CALLBACK_PATH}`,
      state: 'st',
      code_challenge: 'x'.repeat(43),
      code_challenge_method: 'S256',
      method: 'ext-jwt',
    });
    for (const [k, v] of Object.entries(over)) v === null ? q.delete(k) : q.set(k, v);
    return fetch(`${fabric.controller.url}/oidc/authorize?${q}`, { redirect: 'manual' });
  };

  it("takes the bootstrap site's OIDC callback as a redirect URI", async () => {
    const res = await authorize({});
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toMatch(/^\/oidc\/login\/ext-jwt\?authRequestID=/);
  });

  it('is stricter than the real controller about PKCE: S256 is required at authorize', async () => {
    const cases: Record<string, string | null>[] = [
      { code_challenge: null, code_challenge_method: null },
      { code_challenge_method: 'plain' },
    ];
    for (const over of cases) {
      const res = await authorize(over);
      expect(res.status).toBe(302);
      const back = new URL(res.headers.get('location')!);
      expect(back.pathname).toBe(OIDC_CALLBACK_PATH);
      expect(back.searchParams.get('error')).toBe('invalid_request');
      expect(back.searchParams.get('state')).toBe('st');
    }
  });

  it('sends the login page for the method asked, the password page by default', async () => {
    const res = await authorize({ method: null });
    expect(res.headers.get('location')).toMatch(/^\/oidc\/login\/username\?authRequestID=/);
  });

  it('publishes the key its tokens verify with at /oidc/keys', async () => {
    const jwks = (await (
      await fetch(`${fabric.controller.url}/oidc/keys`)
    ).json()) as JSONWebKeySet;
    const s = fabric.state.createApiSession(fabric.state.identityByName(TEST_USER.name)!, {
      authMethod: 'ext-jwt',
    });
    const token = await fabric.state.issueApiSessionJwt(s);
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks));
    expect(payload.z_asid).toBe(s.id);
  });

  it('answers other /oidc paths 404', async () => {
    const res = await fetch(`${fabric.controller.url}/oidc/nothing-here`);
    expect(res.status).toBe(404);
  });
});
