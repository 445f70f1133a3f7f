/**
 * Services and sessions (§1.7, §1.8): the services the caller may dial or bind with their
 * configs, the edge routers that serve them, and `POST`/`DELETE /sessions`.
 */
import type { ApiSession, FabricService, FabricState, Permission } from '../state.ts';
import {
  type Controller,
  type Ctx,
  entityLinks,
  type SessionRoutes,
  sessionHeaders,
} from './context.ts';
import { ApiError, readJsonBody, sendData } from './envelope.ts';

const DEFAULT_PAGE_LIMIT = 10;
const MAX_PAGE_LIMIT = 500;

/**
 * The edge routers as each list shows them (what a real controller sends, checked by
 * e2e/openziti-conformance.spec.ts): `POST /sessions` has the common properties plus the
 * deprecated `urls`, `/services/{id}/edge-routers` the common properties alone, and
 * `/current-identity/edge-routers` base entities with the common properties (§1.8).
 */
export function edgeRouterView(state: FabricState, list: 'session' | 'service' | 'identity') {
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

async function createSession(c: Controller, ctx: Ctx, s: ApiSession): Promise<void> {
  const { state } = c;
  const body = await readJsonBody(ctx.req, state.config.controller.maxBodyBytes);
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
  // server.ts takes an access token only when no zt-session is sent, so the request came with an
  // OIDC access token exactly when there is none (the real controller's `rc.Claims != nil`).
  const legacy = ctx.req.headers['zt-session'] !== undefined;
  const es = await state.createSession(s, service, type, legacy);
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
      edgeRouters: edgeRouterView(state, 'session'),
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      _links: entityLinks('sessions', es.id),
    },
    {},
    sessionHeaders(state, s),
  );
}

/** The services the caller may use, and the (edge) sessions that dial or bind them. */
export const serviceRoutes: SessionRoutes = async (c, ctx, s, hdrs) => {
  const { state } = c;
  const { res, path, method, route } = ctx;
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
    sendData(res, 200, page, { pagination: { limit, offset, totalCount: all.length } }, hdrs);
    return true;
  }
  const svcMatch = /^\/services\/([^/]+)(\/edge-routers)?$/.exec(path);
  if (svcMatch && method === 'GET') {
    const svc = state.serviceById(decodeURIComponent(svcMatch[1]!));
    const perms = svc ? state.permissions(s.identity, svc) : [];
    if (!svc || perms.length === 0) throw new ApiError(404, 'NOT_FOUND', 'no such service');
    if (svcMatch[2]) {
      // A real controller sends its empty (nil) list as null here (§1.8).
      const routers = edgeRouterView(state, 'service');
      sendData(res, 200, { edgeRouters: routers.length ? routers : null }, {}, hdrs);
      return true;
    }
    sendData(res, 200, serviceView(svc, perms, requestedConfigTypes(ctx, s)), {}, hdrs);
    return true;
  }
  if (route === 'POST /sessions') {
    await createSession(c, ctx, s);
    return true;
  }
  const deleted = /^DELETE \/sessions\/([^/]+)$/.exec(route);
  if (deleted) {
    if (!state.deleteSession(decodeURIComponent(deleted[1]!), s.identity.id))
      throw new ApiError(404, 'NOT_FOUND', `no session "${deleted[1]}"`);
    sendData(res, 200, {}, {});
    return true;
  }
  return false;
};
