/**
 * The fabric controller: the edge client REST API subset of §9, strict about envelopes, codes, CORS
 * and authentication (§1, §6.2, §11). It writes the shared FabricState the router reads.
 *
 * This file routes; each resource answers in its own module: discovery.ts (version, CA bundle,
 * external JWT signers), api-sessions.ts (authentication, the current API session and its
 * certificates), identity.ts (the current identity), services.ts (services, edge routers,
 * sessions). context.ts holds what they share.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listen } from '../_internal/listen.ts';
import type { Logger } from '../log.ts';
import type { FabricState } from '../state.ts';
import { apiSessionRoutes, authenticate } from './api-sessions.ts';
import {
  authenticated,
  CLIENT_API_BASE,
  type Controller,
  type Ctx,
  type SessionRoutes,
  sessionHeaders,
} from './context.ts';
import { discoveryRoutes } from './discovery.ts';
import { API_META, ApiError, corsLayer, sendError, sendJson } from './envelope.ts';
import type { ExtJwtVerifier } from './ext-jwt.ts';
import { identityRoutes } from './identity.ts';
import { FabricOidc, isOidcPath, type OidcOptions } from './oidc.ts';
import { serviceRoutes } from './services.ts';

export interface ControllerOptions {
  host: string;
  port: number;
  state: FabricState;
  extJwt: ExtJwtVerifier;
  log: Logger;
  /** The OIDC API at /oidc (oidc.ts): redirect URIs and token lifetimes. */
  oidc?: Partial<OidcOptions>;
}

export interface RunningController {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
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

/** The resources behind an API session; their routes do not overlap. */
const SESSION_ROUTES: SessionRoutes[] = [apiSessionRoutes, identityRoutes, serviceRoutes];

export async function startController(opts: ControllerOptions): Promise<RunningController> {
  const { state, log } = opts;
  const c: Controller = { state, extJwt: opts.extJwt, log };
  const oidc = new FabricOidc(c, opts.oidc);
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

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Without the edge-oidc binding, /oidc is just an unknown path (404) and no access token exists.
    const oidcOn = state.config.controller.oidc;
    if (oidcOn && isOidcPath(req.url)) return oidc.handle(req, res);
    if (corsLayer(req, res)) return;
    const url = new URL(req.url ?? '/', 'http://controller');
    const path = normalizeApiPath(url.pathname);
    if (path === null) throw new ApiError(404, 'NOT_FOUND', `no route ${url.pathname}`);
    const method = req.method ?? 'GET';
    const route = `${method === 'HEAD' ? 'GET' : method} ${path}`;
    const ctx: Ctx = { req, res, url, path, method, route };
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

    if (discoveryRoutes(c, ctx)) return;
    if (route === 'POST /authenticate') return authenticate(c, ctx);

    const s = (oidcOn ? await oidc.bearerSession(ctx) : undefined) ?? authenticated(state, ctx);
    const hdrs = sessionHeaders(state, s);
    for (const routes of SESSION_ROUTES) if (await routes(c, ctx, s, hdrs)) return;
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
