/**
 * What every resource module of the fabric controller shares: the request context, the
 * controller's dependencies, the zt-session check and the session headers on every answer (§1.4).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';
import type { ApiSession, FabricState } from '../state.ts';
import { ApiError } from './envelope.ts';
import type { ExtJwtVerifier } from './ext-jwt.ts';

export const CLIENT_API_BASE = '/edge/client/v1';

/** The controller's dependencies, as `startController` was given them. */
export interface Controller {
  state: FabricState;
  extJwt: ExtJwtVerifier;
  log: Logger;
}

/** One request, already routed: the method and path it is known to be allowed. */
export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Path relative to the client API base, e.g. `/services/abc`. */
  path: string;
  /** The request's method as sent. */
  method: string;
  /** `METHOD path`, with HEAD answered as GET, e.g. `GET /services`. */
  route: string;
}

/**
 * The routes of one resource that need an API session: true if one of them answered, false if
 * the request is none of this resource's.
 */
export type SessionRoutes = (
  c: Controller,
  ctx: Ctx,
  s: ApiSession,
  hdrs: Record<string, string>,
) => Promise<boolean>;

export function entityLinks(kind: string, id: string): Record<string, { href: string }> {
  return { self: { href: `./${kind}/${id}` } };
}

/** The API session named by `zt-session`, touched; 401 without a live one. */
export function authenticated(state: FabricState, ctx: Ctx): ApiSession {
  const token = ctx.req.headers['zt-session'];
  // `Authorization: Bearer` beside zt-session is secondary (§1.4, §11): only zt-session counts.
  if (typeof token !== 'string' || token === '')
    throw new ApiError(401, 'UNAUTHORIZED', 'no zt-session header');
  const s = state.apiSessionByToken(token);
  if (!s) throw new ApiError(401, 'UNAUTHORIZED', 'the API session is unknown or expired');
  state.touch(s);
  return s;
}

export function sessionHeaders(state: FabricState, s: ApiSession): Record<string, string> {
  const expiresAt = state.expiresAt(s);
  return {
    'expiration-seconds': String(
      Math.max(0, Math.round((expiresAt.getTime() - state.now()) / 1000)),
    ),
    'expires-at': expiresAt.toISOString(),
  };
}
