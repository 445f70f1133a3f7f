import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controllerSupportsOidc } from '../../shared/ziti/controller/pick-router.ts';
import { parseFabricConfig } from '../config.ts';
import type { RunningFabric } from '../fabric.ts';
import { startTestFabric } from '../testing/harness.ts';
import { OIDC_BASE } from './oidc.ts';

describe('controller.oidc option', () => {
  it('is on by default', () => {
    expect(parseFabricConfig({}).controller.oidc).toBe(true);
    expect(parseFabricConfig({ controller: { oidc: false } }).controller.oidc).toBe(false);
    expect(() => parseFabricConfig({ controller: { oidc: 'no' } })).toThrow(
      /controller\.oidc: expected true or false/,
    );
  });
});

for (const oidc of [true, false]) {
  describe(`/version and /oidc with controller.oidc: ${oidc}`, () => {
    let fabric: RunningFabric;
    beforeAll(async () => {
      fabric = await startTestFabric({ controller: { host: '127.0.0.1', port: 0, oidc } });
    });
    afterAll(() => fabric?.close());

    it(`${oidc ? 'lists' : 'does not list'} OIDC_AUTH and the edge-oidc binding`, async () => {
      const res = await fetch(`${fabric.controller.url}/edge/client/v1/version`);
      const { data } = (await res.json()) as {
        data: { capabilities: string[]; apiVersions: Record<string, Record<string, unknown>> };
      };
      expect(data.capabilities).toEqual(oidc ? ['OIDC_AUTH'] : []);
      expect(Object.hasOwn(data.apiVersions, 'edge-oidc')).toBe(oidc);
      expect(controllerSupportsOidc(data)).toBe(oidc);
      expect(Object.keys(data.apiVersions)).toEqual(
        expect.arrayContaining(['edge-client', 'edge']),
      );
    });

    it(`${oidc ? 'serves' : 'has no'} ${OIDC_BASE} and ${oidc ? 'takes' : 'ignores'} access tokens`, async () => {
      const authorize = await fetch(`${fabric.controller.url}${OIDC_BASE}/authorize`, {
        redirect: 'manual',
      });
      // With the API on, a request without client_id is the provider's 400; off, no such path.
      expect(authorize.status).toBe(oidc ? 400 : 404);

      const s = fabric.state.createApiSession(fabric.state.identities[0]!, {
        authMethod: 'ext-jwt',
      });
      const now = Math.floor(Date.now() / 1000);
      const access = await new SignJWT({ z_t: 'a', z_asid: s.id, z_cfs: null })
        .setProtectedHeader({ alg: 'ES256', kid: fabric.pki.jwtKey.kid, typ: 'JWT' })
        .setIssuer(`${fabric.controller.url}${OIDC_BASE}`)
        .setSubject(s.identity.id)
        .setAudience(['openziti'])
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(fabric.pki.jwtKey.privateKey);
      const me = await fetch(`${fabric.controller.url}/edge/client/v1/current-identity`, {
        headers: { authorization: `Bearer ${access}` },
      });
      expect(me.status).toBe(oidc ? 200 : 401);
    });
  });
}
