/**
 * The fabric controller against the OIDC suite OpenZiti's own controller also passes
 * (oidc-agreement.ts; the real run is openziti/oidc.real.test.ts).
 */
import { silentLogger } from '../log.ts';
import { startTestFabric, TEST_USER } from '../testing/harness.ts';
import { loginAtIdp } from '../testing/idp-login.ts';
import { ExtJwtVerifier } from './ext-jwt.ts';
import { describeOidcAgreement } from './oidc-agreement.ts';
import { startController } from './server.ts';

const ACCESS_TOKEN_SECONDS = 60;

describeOidcAgreement('the fabric controller', async (redirectUri) => {
  const fabric = await startTestFabric();
  // The harness's controller has the fabric's own OIDC options; this suite needs its redirect
  // URI and a short lifetime, so a second controller serves the same state with those.
  const controller = await startController({
    host: '127.0.0.1',
    port: 0,
    state: fabric.state,
    extJwt: new ExtJwtVerifier([fabric.signer], fabric.config.identities),
    log: silentLogger,
    oidc: { redirectUris: [redirectUri], accessTokenSeconds: ACCESS_TOKEN_SECONDS },
  });
  return {
    controllerUrl: `http://127.0.0.1:${controller.port}`,
    fetch: (req) => fetch(req),
    person: { name: TEST_USER.name },
    accessTokenSeconds: ACCESS_TOKEN_SECONDS,
    idpToken: async () =>
      (
        await loginAtIdp({
          issuer: fabric.idp.issuer,
          clientId: fabric.config.idp.clientId,
          redirectUri: 'http://127.0.0.1:0/__zt/callback',
          username: TEST_USER.name,
          password: TEST_USER.password,
        })
      ).access_token,
    async close() {
      await controller.close();
      await fabric.close();
    },
  };
});
