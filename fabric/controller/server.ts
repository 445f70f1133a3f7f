/**
 * The fabric controller: the edge client REST API subset of §9, strict about envelopes, codes, CORS
 * and authentication (§1, §6.2, §11). It writes the shared FabricState the router reads.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listen } from '../_internal/listen.ts';
import type * as x509 from '../_internal/x509.ts';
import type { Logger } from '../log.ts';
import { CsrError, caCertsPkcs7Base64, certFingerprint, signCsr } from '../pki.ts';
import type { ApiSession, FabricService, FabricState, Permission } from '../state.ts';
import {
  API_META,
  ApiError,
  readJsonBody,
  sendData,
  sendError,
  sendJson,
  setCors,
} from './envelope.ts';
import { type ExtJwtSigner, type ExtJwtVerifier, publicSignerView } from './ext-jwt.ts';

export const CLIENT_API_BASE = '/edge/client/v1';
const DEFAULT_PAGE_LIMIT = 10;
const MAX_PAGE_LIMIT = 500;

export interface ControllerOptions {
  host: string;
  port: number;
  state: FabricState;
  extJwt: ExtJwtVerifier;
  log: Logger;
}

export interface RunningController {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Path relative to the client API base, e.g. `/services/abc`. */
  path: string;
}

/** Maps a request path onto the client API as `controller/webapis/client-api.go` does (§1.1). */
export function normalizeApiPath(pathname: string): string | null {
  if (pathname === '/' || pathname === '/version') return '/version';
  if (pathname === '/.well-known/est/cacerts') return '/.well-known/est/cacerts';
  if (pathname.startsWith('/edge/v1/') || pathname === '/edge/v1') {
    return pathname.slice('/edge/v1'.length) || '/';
  }
  if (pathname.startsWith(`${CLIENT_API_BASE}/`) || pathname === CLIENT_API_BASE) {
    return pathname.slice(CLIENT_API_BASE.length) || '/';
  }
  if (
    pathname.startsWith('/edge') ||
    pathname.startsWith('/fabric') ||
    pathname.startsWith('/.well-known')
  ) {
    return null;
  }
  return pathname;
}

/** The client API paths the fabric serves (relative to the base) and their methods. */
const ROUTES: [RegExp, string[]][] = [
  [/^\/version$/, ['GET']],
  [/^\/\.well-known\/est\/cacerts$/, ['GET']],
  [/^\/external-jwt-signers$/, ['GET']],
  [/^\/authenticate$/, ['POST']],
  [/^\/current-api-session$/, ['GET', 'DELETE']],
  [/^\/current-api-session\/certificates$/, ['GET', 'POST']],
  [/^\/current-api-session\/certificates\/[^/]+$/, ['GET', 'DELETE']],
  [/^\/current-api-session\/service-updates$/, ['GET']],
  [/^\/current-identity$/, ['GET']],
  [/^\/current-identity\/edge-routers$/, ['GET']],
  [/^\/services$/, ['GET']],
  [/^\/services\/[^/]+(\/edge-routers)?$/, ['GET']],
  [/^\/sessions$/, ['POST']],
  [/^\/sessions\/[^/]+$/, ['DELETE']],
];

function entityLinks(kind: string, id: string): Record<string, { href: string }> {
  return { self: { href: `./${kind}/${id}` } };
}

export async function startController(opts: ControllerOptions): Promise<RunningController> {
  const { state, log } = opts;
  const cfg = state.config.controller;
  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (err instanceof ApiError) return sendError(res, err);
      log.error(`controller: ${req.method} ${req.url}: ${(err as Error).stack ?? err}`);
      if (!res.headersSent)
        sendJson(res, 500, {
          error: { code: 'UNHANDLED', message: 'internal error' },
          meta: API_META,
        });
    });
  });
  const port = await listen(server, opts.host, opts.port, 'controller');
  const url = `http://${state.config.advertiseHost}:${port}`;

  function authenticated(ctx: Ctx): ApiSession {
    const token = ctx.req.headers['zt-session'];
    // `Authorization: Bearer` beside zt-session is secondary (§1.4, §11): only zt-session counts.
    if (typeof token !== 'string' || token === '')
      throw new ApiError(401, 'UNAUTHORIZED', 'no zt-session header');
    const s = state.apiSessionByToken(token);
    if (!s) throw new ApiError(401, 'UNAUTHORIZED', 'the API session is unknown or expired');
    state.touch(s);
    return s;
  }

  function sessionHeaders(s: ApiSession): Record<string, string> {
    const expiresAt = state.expiresAt(s);
    return {
      'expiration-seconds': String(
        Math.max(0, Math.round((expiresAt.getTime() - state.now()) / 1000)),
      ),
      'expires-at': expiresAt.toISOString(),
    };
  }

  function apiSessionDetail(s: ApiSession): Record<string, unknown> {
    const expiresAt = state.expiresAt(s);
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
      expirationSeconds: cfg.apiSessionTimeoutSeconds,
      createdAt: s.createdAt.toISOString(),
      updatedAt: s.lastActivityAt.toISOString(),
      tags: {},
      _links: entityLinks('api-sessions', s.id),
    };
  }

  /**
   * The edge routers as each list shows them (what a real controller sends, checked by
   * e2e/openziti-conformance.spec.ts): `POST /sessions` has the common properties plus the
   * deprecated `urls`, `/services/{id}/edge-routers` the common properties alone, and
   * `/current-identity/edge-routers` base entities with the common properties (§1.8).
   */
  function edgeRouterView(list: 'session' | 'service' | 'identity') {
    return state.routers.map((r) => ({
      ...(list === 'identity'
        ? {
            id: r.name,
            createdAt: new Date(0).toISOString(),
            updatedAt: new Date(0).toISOString(),
            tags: {},
            _links: entityLinks('edge-routers', r.name),
          }
        : {}),
      name: r.name,
      hostname: r.hostname,
      isOnline: true,
      syncStatus: 'SYNC_DONE',
      cost: 0,
      noTraversal: false,
      disabled: false,
      supportedProtocols: { ...r.urls },
      ...(list === 'session' ? { urls: { ...r.urls } } : {}),
    }));
  }

  function serviceView(s: FabricService, perms: Permission[], configTypes: string[] | 'all') {
    const config: Record<string, unknown> = {};
    for (const [type, value] of Object.entries(s.configs)) {
      if (configTypes === 'all' || configTypes.includes(type)) config[type] = value;
    }
    return {
      id: s.id,
      name: s.name,
      permissions: perms,
      encryptionRequired: s.encryptionRequired,
      config,
      configs: Object.keys(s.configs).map((t) => `${s.id}:${t}`),
      postureQueries: [],
      maxIdleTimeMillis: 0,
      terminatorStrategy: 'smartrouting',
      roleAttributes: s.roleAttributes,
      createdAt: new Date(0).toISOString(),
      updatedAt: new Date(0).toISOString(),
      tags: {},
      _links: entityLinks('services', s.id),
    };
  }

  /**
   * `configTypes`: repeated, or `all`; else the API session's (§1.7). Like the real client API, a
   * comma is not a separator: `intercept.v1,host.v1` is one unknown type and matches no config.
   */
  function requestedConfigTypes(ctx: Ctx, s: ApiSession): string[] | 'all' {
    const list = ctx.url.searchParams.getAll('configTypes').filter((v) => v !== '');
    if (list.length === 0) return s.configTypes.includes('all') ? 'all' : s.configTypes;
    return list.includes('all') ? 'all' : list;
  }

  function paging(ctx: Ctx): { limit: number; offset: number } {
    const parse = (name: string, dflt: number, max: number) => {
      const raw = ctx.url.searchParams.get(name);
      if (raw === null || raw === '') return dflt;
      if (name === 'limit' && raw === 'none') return max;
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 0)
        throw new ApiError(400, 'COULD_NOT_VALIDATE', `${name} must be a non-negative integer`);
      return Math.min(n, max);
    };
    return {
      limit: parse('limit', DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT),
      offset: parse('offset', 0, Number.MAX_SAFE_INTEGER),
    };
  }

  /** The ZitiQL subset the clients use: `name="x"` / `id="x"`, optionally joined by `and`. */
  function filterServices(ctx: Ctx, list: FabricService[]): FabricService[] {
    const filter = ctx.url.searchParams.get('filter');
    if (!filter) return list;
    const terms = filter.split(/\s+and\s+/i).map((t) => {
      const m = /^\s*(name|id)\s*=\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(t);
      if (!m) throw new ApiError(400, 'COULD_NOT_VALIDATE', `unsupported filter "${filter}"`);
      return { field: m[1] as 'name' | 'id', value: m[2]!.replace(/\\(.)/g, '$1') };
    });
    return list.filter((s) => terms.every((t) => s[t.field] === t.value));
  }

  async function authenticate(ctx: Ctx): Promise<void> {
    const method = ctx.url.searchParams.get('method');
    const body = (await readJsonBody(ctx.req, cfg.maxBodyBytes)) ?? {};
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
      ({ identity } = await opts.extJwt.verify(m[1]!));
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
      apiSessionDetail(s),
      {},
      { 'zt-session': s.token, ...sessionHeaders(s) },
    );
  }

  async function createSessionCert(ctx: Ctx, s: ApiSession): Promise<void> {
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
      sessionHeaders(s),
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

  async function createSession(ctx: Ctx, s: ApiSession): Promise<void> {
    const body = await readJsonBody(ctx.req, cfg.maxBodyBytes);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ApiError(
        400,
        'COULD_NOT_VALIDATE',
        'body must be {"serviceId": "...", "type": "Dial"|"Bind"}',
      );
    }
    const { serviceId, type = 'Dial' } = body as Record<string, unknown>;
    if (typeof serviceId !== 'string' || (type !== 'Dial' && type !== 'Bind')) {
      throw new ApiError(
        400,
        'COULD_NOT_VALIDATE',
        'body must be {"serviceId": "...", "type": "Dial"|"Bind"}',
      );
    }
    const service = state.serviceById(serviceId);
    if (!service || !state.permissions(s.identity, service).includes(type)) {
      throw new ApiError(404, 'NOT_FOUND', `no service "${serviceId}" with ${type} permission`);
    }
    if (state.routers.length === 0) throw new ApiError(400, 'NO_EDGE_ROUTERS_AVAILABLE');
    const es = await state.createSession(s, service, type);
    sendData(
      ctx.res,
      201,
      {
        id: es.id,
        apiSessionId: s.id,
        apiSession: {
          entity: 'api-sessions',
          id: s.id,
          name: '',
          _links: entityLinks('api-sessions', s.id),
        },
        serviceId: service.id,
        service: {
          entity: 'services',
          id: service.id,
          name: service.name,
          _links: entityLinks('services', service.id),
        },
        identityId: s.identity.id,
        type,
        token: es.token,
        edgeRouters: edgeRouterView('session'),
        createdAt: new Date().toISOString(),
        updatedAt: new Date().toISOString(),
        _links: entityLinks('sessions', es.id),
      },
      {},
      sessionHeaders(s),
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    setCors(req, res);
    if (req.method === 'OPTIONS') {
      res.writeHead(200, { 'content-length': '0' });
      res.end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://controller');
    const path = normalizeApiPath(url.pathname);
    if (path === null) throw new ApiError(404, 'NOT_FOUND', `no route ${url.pathname}`);
    const ctx: Ctx = { req, res, url, path };
    const method = req.method ?? 'GET';
    const route = `${method === 'HEAD' ? 'GET' : method} ${path}`;
    // Routing comes before authentication, as in the real controller: an unknown path is 404 and
    // a known path with another method 405, with or without a session.
    const allowed = ROUTES.find(([pattern]) => pattern.test(path))?.[1];
    if (!allowed) throw new ApiError(404, 'NOT_FOUND', `no route ${url.pathname}`);
    if (!allowed.includes(route.slice(0, route.indexOf(' ')))) {
      throw new ApiError(
        405,
        'METHOD_NOT_ALLOWED',
        `${method} is not allowed on ${url.pathname} (only ${allowed.join(', ')})`,
      );
    }

    if (route === 'GET /version') {
      return sendData(res, 200, {
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
        },
        // No /oidc binding is served, so neither OIDC_AUTH nor HA_CONTROLLER (§1.3).
        capabilities: [],
      });
    }
    if (route === 'GET /.well-known/est/cacerts') {
      const body = caCertsPkcs7Base64(state.pki);
      res.writeHead(200, {
        'content-type': 'application/pkcs7-mime',
        'content-transfer-encoding': 'base64',
      });
      res.end(body);
      return;
    }
    if (route === 'GET /external-jwt-signers') {
      const list = opts.extJwt.signers.filter((s: ExtJwtSigner) => s.enabled).map(publicSignerView);
      return sendData(res, 200, list, {
        pagination: { limit: list.length, offset: 0, totalCount: list.length },
      });
    }
    if (route === 'POST /authenticate') return authenticate(ctx);

    const s = authenticated(ctx);
    const hdrs = sessionHeaders(s);
    if (route === 'GET /current-api-session')
      return sendData(res, 200, apiSessionDetail(s), {}, hdrs);
    if (route === 'DELETE /current-api-session') {
      state.removeApiSession(s.id);
      log.info(`${s.identity.name} logged out`);
      return sendData(res, 200, {}, {});
    }
    if (route === 'POST /current-api-session/certificates') return createSessionCert(ctx, s);
    if (route === 'GET /current-api-session/certificates') {
      const list = [...s.certs.values()].map(certView);
      return sendData(
        res,
        200,
        list,
        { pagination: { limit: list.length, offset: 0, totalCount: list.length } },
        hdrs,
      );
    }
    const certMatch = /^\/current-api-session\/certificates\/([^/]+)$/.exec(path);
    if (certMatch) {
      const c = s.certs.get(decodeURIComponent(certMatch[1]!));
      if (!c) throw new ApiError(404, 'NOT_FOUND', 'no such certificate');
      if (method === 'GET') return sendData(res, 200, certView(c), {}, hdrs);
      if (method === 'DELETE') {
        s.certs.delete(c.id);
        return sendData(res, 200, {}, {}, hdrs);
      }
    }
    if (route === 'GET /current-api-session/service-updates') {
      return sendData(res, 200, { lastChangeAt: s.createdAt.toISOString() }, {}, hdrs);
    }
    if (route === 'GET /current-identity') {
      const i = s.identity;
      return sendData(
        res,
        200,
        {
          id: i.id,
          name: i.name,
          externalId: i.externalId,
          roleAttributes: i.roleAttributes,
          disabled: i.disabled,
          _links: entityLinks('identities', i.id),
        },
        {},
        hdrs,
      );
    }
    if (route === 'GET /current-identity/edge-routers')
      return sendData(res, 200, edgeRouterView('identity'), {}, hdrs);
    if (route === 'GET /services') {
      const visible = state.services
        .map((svc) => ({ svc, perms: state.permissions(s.identity, svc) }))
        .filter((x) => x.perms.length > 0);
      const filtered = new Set(
        filterServices(
          ctx,
          visible.map((x) => x.svc),
        ),
      );
      const all = visible.filter((x) => filtered.has(x.svc));
      const { limit, offset } = paging(ctx);
      const types = requestedConfigTypes(ctx, s);
      const page = all.slice(offset, offset + limit).map((x) => serviceView(x.svc, x.perms, types));
      return sendData(
        res,
        200,
        page,
        { pagination: { limit, offset, totalCount: all.length } },
        hdrs,
      );
    }
    const svcMatch = /^\/services\/([^/]+)(\/edge-routers)?$/.exec(path);
    if (svcMatch && method === 'GET') {
      const svc = state.serviceById(decodeURIComponent(svcMatch[1]!));
      const perms = svc ? state.permissions(s.identity, svc) : [];
      if (!svc || perms.length === 0) throw new ApiError(404, 'NOT_FOUND', 'no such service');
      if (svcMatch[2]) {
        // A real controller sends its empty (nil) list as null here (§1.8).
        const routers = edgeRouterView('service');
        return sendData(res, 200, { edgeRouters: routers.length ? routers : null }, {}, hdrs);
      }
      return sendData(res, 200, serviceView(svc, perms, requestedConfigTypes(ctx, s)), {}, hdrs);
    }
    if (route === 'POST /sessions') return createSession(ctx, s);
    const deleted = /^DELETE \/sessions\/([^/]+)$/.exec(route);
    if (deleted) {
      if (!state.deleteSession(decodeURIComponent(deleted[1]!), s.identity.id))
        throw new ApiError(404, 'NOT_FOUND', `no session "${deleted[1]}"`);
      return sendData(ctx.res, 200, {}, {});
    }
    throw new ApiError(404, 'NOT_FOUND', `no route ${method} ${url.pathname}`);
  }

  log.info(`controller listening on ${url}`);
  return {
    url,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
