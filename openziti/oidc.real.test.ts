/**
 * OpenZiti's own controller (v1.7.2, built by build-ziti.sh) against the OIDC suite the fabric's
 * controller also passes (fabric/controller/oidc-agreement.ts): the product's OIDC session client
 * logging in with the fabric IdP's token, Bearer REST, refreshes, refusals and CORS. The
 * controller's `edge-oidc` binding lists the suite's redirect URI and its access tokens last the
 * minimum, one minute (network.ts `oidc`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeOidcAgreement } from '../fabric/controller/oidc-agreement.ts';
import { IDP_SCOPES, startIdp } from '../fabric/idp.ts';
import { loginAtIdp } from '../fabric/testing/idp-login.ts';
import { startOpenZiti, zitiBinary } from './network.ts';
import { fetchTrusting } from './trusted-fetch.ts';

const IDP_CLIENT = 'zt-browser';
const IDP_REDIRECT = 'http://127.0.0.1:0/__zt/callback';
const PERSON = { name: 'oidc-person', externalId: 'oidc-person', password: 'oidc-person-pass' };

describeOidcAgreement('OpenZiti controller', async (redirectUri) => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-oidc-openziti-'));
  const idp = await startIdp({
    host: '127.0.0.1',
    port: 0,
    dataDir: join(dir, 'idp'),
    clientId: IDP_CLIENT,
    audience: 'openziti',
    accessTokenTtlSeconds: 600,
    redirectUris: [IDP_REDIRECT],
    users: [{ ...PERSON, id: PERSON.name, roleAttributes: [], disabled: false }],
  });
  try {
    const network = await startOpenZiti({
      ziti: zitiBinary(),
      dir: join(dir, 'openziti'),
      names: {
        signer: 'local-idp',
        issuer: idp.issuer,
        jwksEndpoint: idp.jwksUrl,
        audience: 'openziti',
        claimsProperty: 'sub',
        clientId: IDP_CLIENT,
        scopes: IDP_SCOPES,
        authPolicy: 'browser-users',
        userRole: 'users',
        hostRole: 'hosts',
        service: 'oidc-app',
        intercept: { address: 'oidc-app.test', port: 80 },
        host: { address: '127.0.0.1', port: 9 },
        hostIdentity: 'app-host',
      },
      people: [{ name: PERSON.name, externalId: PERSON.externalId }],
      tunneler: false,
      oidc: { redirectUris: [redirectUri], accessTokenDuration: '1m' },
    });
    return {
      controllerUrl: network.controllerUrl,
      fetch: await fetchTrusting(network.rootCaPem),
      person: { name: PERSON.name },
      accessTokenSeconds: 60,
      idpToken: async () =>
        (
          await loginAtIdp({
            issuer: idp.issuer,
            clientId: IDP_CLIENT,
            redirectUri: IDP_REDIRECT,
            username: PERSON.name,
            password: PERSON.password,
          })
        ).access_token,
      async close() {
        await network.close();
        await idp.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await idp.close();
    throw err;
  }
});
