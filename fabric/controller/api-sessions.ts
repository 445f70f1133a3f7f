/**
 * Authentication and API sessions (§1.4, §1.6): `POST /authenticate`, the caller's
 * `/current-api-session` and the session certificates signed for it.
 */
import { randomUUID } from 'node:crypto';
import type * as x509 from '../_internal/x509.ts';
import { CsrError, certFingerprint, signCsr } from '../pki.ts';
import type { ApiSession } from '../state.ts';
import {
  type Controller,
  type Ctx,
  entityLinks,
  type SessionRoutes,
  sessionHeaders,
} from './context.ts';
import { ApiError, readJsonBody, sendData } from './envelope.ts';

function apiSessionDetail(c: Controller, s: ApiSession): Record<string, unknown> {
  const expiresAt = c.state.expiresAt(s);
  return {
    id: s.id,
    token: s.token,
    identity: {
      entity: 'identities',
      id: s.identity.id,
      name: s.identity.name,
      _links: entityLinks('identities', s.identity.id),
    },
    identityId: s.identity.id,
    ipAddress: s.ipAddress,
    configTypes: s.configTypes,
    authQueries: [],
    isMfaRequired: false,
    isMfaComplete: false,
    authenticatorId: `${s.authMethod}-${s.identity.id}`,
    // What ziti 1.7 sends; 2.x adds isCertExtendRequested, isCertKeyRollRequested and
    // improperClientCertChain (§1.4). e2e/openziti-conformance.spec.ts compares the key sets.
    isCertExtendable: false,
    lastActivityAt: s.lastActivityAt.toISOString(),
    cachedLastActivityAt: s.lastActivityAt.toISOString(),
    expiresAt: expiresAt.toISOString(),
    expirationSeconds: c.state.config.controller.apiSessionTimeoutSeconds,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.lastActivityAt.toISOString(),
    tags: {},
    _links: entityLinks('api-sessions', s.id),
  };
}

/** `POST /authenticate?method=password|ext-jwt|cert` (§1.4): a new API session. */
export async function authenticate(c: Controller, ctx: Ctx): Promise<void> {
  const { state, log } = c;
  const method = ctx.url.searchParams.get('method');
  const body = (await readJsonBody(ctx.req, state.config.controller.maxBodyBytes)) ?? {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'COULD_NOT_VALIDATE', 'the body must be a JSON object');
  }
  const b = body as Record<string, unknown>;
  const configTypes = Array.isArray(b.configTypes)
    ? b.configTypes.filter((x): x is string => typeof x === 'string')
    : [];
  let identity: ApiSession['identity'];
  if (method === 'password') {
    const { username, password } = b;
    if (typeof username !== 'string' || username.length < 4 || username.length > 100) {
      throw new ApiError(
        400,
        'COULD_NOT_VALIDATE',
        'username must be a string of 4-100 characters',
      );
    }
    if (typeof password !== 'string' || password.length < 5 || password.length > 100) {
      throw new ApiError(
        400,
        'COULD_NOT_VALIDATE',
        'password must be a string of 5-100 characters',
      );
    }
    const found = state.identityByName(username);
    if (!found || found.password === undefined || found.password !== password || found.disabled) {
      throw new ApiError(401, 'INVALID_AUTH', 'wrong username or password');
    }
    identity = found;
  } else if (method === 'ext-jwt') {
    // A zt-session header beside the bearer does no harm: a bearer token the controller did not
    // issue always goes to the external-token list, which ext-jwt reads (§1.4).
    const auth = ctx.req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (!m) throw new ApiError(401, 'INVALID_AUTH', 'no Authorization: Bearer token');
    ({ identity } = await c.extJwt.verify(m[1]!));
  } else if (method === 'cert') {
    throw new ApiError(
      401,
      'INVALID_AUTH',
      'no client certificate presented (the fabric controller listens without TLS)',
    );
  } else {
    throw new ApiError(400, 'INVALID_AUTH_METHOD', `unknown method "${method ?? ''}"`);
  }
  const s = state.createApiSession(identity, {
    authMethod: method,
    configTypes,
    ipAddress: ctx.req.socket.remoteAddress ?? '',
  });
  log.info(`${identity.name} authenticated (${method})`);
  sendData(
    ctx.res,
    200,
    apiSessionDetail(c, s),
    {},
    { 'zt-session': s.token, ...sessionHeaders(state, s) },
  );
}

async function createSessionCert(c: Controller, ctx: Ctx, s: ApiSession): Promise<void> {
  const { state, log } = c;
  const cfg = state.config.controller;
  const body = await readJsonBody(ctx.req, cfg.maxBodyBytes);
  const csr = (body as { csr?: unknown } | undefined)?.csr;
  if (typeof csr !== 'string' || !csr.includes('CERTIFICATE REQUEST')) {
    throw new ApiError(400, 'MISSING_OR_INVALID_CSR', 'body must be {"csr": "<PEM CSR>"}');
  }
  const id = randomUUID();
  let cert: x509.X509Certificate;
  try {
    cert = await signCsr(state.pki, csr, {
      spiffeId: `spiffe://${state.pki.trustDomain}/identity/${s.identity.id}/apiSession/${s.id}/apiSessionCertificate/${id}`,
      subject: `CN=${s.identity.id}`,
      validitySeconds: cfg.sessionCertValiditySeconds,
    });
  } catch (err) {
    if (err instanceof CsrError)
      throw new ApiError(400, 'COULD_NOT_PROCESS_CSR', err.message, { cause: err });
    throw err;
  }
  const certPem = `${cert.toString('pem')}\n`;
  s.certs.set(id, {
    id,
    fingerprint: certFingerprint(cert),
    certPem,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  });
  log.info(
    `session certificate for ${s.identity.name} (valid until ${cert.notAfter.toISOString()})`,
  );
  sendData(
    ctx.res,
    201,
    {
      id,
      certificate: `${certPem}${state.pki.intermediate.toString('pem')}\n`,
      cas: state.pki.caBundlePem,
      _links: entityLinks('current-api-session/certificates', id),
    },
    {},
    sessionHeaders(state, s),
  );
}

function certView(c: ApiSession['certs'] extends Map<string, infer V> ? V : never) {
  return {
    id: c.id,
    fingerprint: c.fingerprint,
    certificate: c.certPem,
    validFrom: c.notBefore.toISOString(),
    validTo: c.notAfter.toISOString(),
    subject: '',
    _links: entityLinks('current-api-session/certificates', c.id),
  };
}

/** The routes of the caller's own API session and its certificates. */
export const apiSessionRoutes: SessionRoutes = async (c, ctx, s, hdrs) => {
  const { res, path, method, route } = ctx;
  if (route === 'GET /current-api-session') {
    sendData(res, 200, apiSessionDetail(c, s), {}, hdrs);
    return true;
  }
  if (route === 'DELETE /current-api-session') {
    c.state.removeApiSession(s.id);
    c.log.info(`${s.identity.name} logged out`);
    sendData(res, 200, {}, {});
    return true;
  }
  if (route === 'POST /current-api-session/certificates') {
    await createSessionCert(c, ctx, s);
    return true;
  }
  if (route === 'GET /current-api-session/certificates') {
    const list = [...s.certs.values()].map(certView);
    sendData(
      res,
      200,
      list,
      { pagination: { limit: list.length, offset: 0, totalCount: list.length } },
      hdrs,
    );
    return true;
  }
  const certMatch = /^\/current-api-session\/certificates\/([^/]+)$/.exec(path);
  if (certMatch) {
    const cert = s.certs.get(decodeURIComponent(certMatch[1]!));
    if (!cert) throw new ApiError(404, 'NOT_FOUND', 'no such certificate');
    if (method === 'GET') {
      sendData(res, 200, certView(cert), {}, hdrs);
      return true;
    }
    if (method === 'DELETE') {
      s.certs.delete(cert.id);
      sendData(res, 200, {}, {}, hdrs);
      return true;
    }
  }
  if (route === 'GET /current-api-session/service-updates') {
    sendData(res, 200, { lastChangeAt: s.createdAt.toISOString() }, {}, hdrs);
    return true;
  }
  return false;
};
