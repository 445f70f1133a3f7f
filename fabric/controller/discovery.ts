/**
 * What a client reads before it logs in: the controller's version and API bases (§1.3), the CA
 * bundle as base64 PKCS#7 (`/.well-known/est/cacerts`, §1.1, §6.1) and the external JWT signers it
 * may log in with (§6.2).
 */
import { caCertsPkcs7Base64 } from '../pki.ts';
import { CLIENT_API_BASE, type Controller, type Ctx } from './context.ts';
import { API_META, sendData } from './envelope.ts';
import { type ExtJwtSigner, publicSignerView } from './ext-jwt.ts';
import { OIDC_BASE } from './oidc.ts';

/** Answers the public discovery routes; false for any other. */
export function discoveryRoutes(c: Controller, ctx: Ctx): boolean {
  const { req, res, url, route } = ctx;
  if (route === 'GET /version') {
    const oidc = c.state.config.controller.oidc;
    sendData(res, 200, {
      version: `v${API_META.apiVersion}-fabric`,
      revision: 'fabric',
      buildDate: new Date(0).toISOString(),
      runtimeVersion: process.version,
      apiVersions: {
        'edge-client': {
          v1: {
            path: CLIENT_API_BASE,
            apiBaseUrls: [`${url.protocol}//${req.headers.host}${CLIENT_API_BASE}`],
          },
        },
        edge: {
          v1: {
            path: CLIENT_API_BASE,
            apiBaseUrls: [`${url.protocol}//${req.headers.host}${CLIENT_API_BASE}`],
          },
        },
        // Without the binding the real controller drops it from apiVersions and reports no
        // OIDC_AUTH (`controller/internal/routes/version_router.go`).
        ...(oidc
          ? {
              'edge-oidc': {
                v1: {
                  path: OIDC_BASE,
                  apiBaseUrls: [`${url.protocol}//${req.headers.host}${OIDC_BASE}`],
                },
              },
            }
          : {}),
      },
      // No raft, so no HA_CONTROLLER. OpenZiti v1.7.2 reports only OIDC_AUTH for the /oidc binding
      // (2.x adds OIDC_AUTH_WITH_CSR, §1.3).
      capabilities: oidc ? ['OIDC_AUTH'] : [],
    });
    return true;
  }
  if (route === 'GET /.well-known/est/cacerts') {
    const body = caCertsPkcs7Base64(c.state.pki);
    res.writeHead(200, {
      'content-type': 'application/pkcs7-mime',
      'content-transfer-encoding': 'base64',
    });
    res.end(body);
    return true;
  }
  if (route === 'GET /external-jwt-signers') {
    const list = c.extJwt.signers.filter((s: ExtJwtSigner) => s.enabled).map(publicSignerView);
    sendData(res, 200, list, {
      pagination: { limit: list.length, offset: 0, totalCount: list.length },
    });
    return true;
  }
  return false;
}
