/**
 * Request builders of the Edge Client API (reference §1). Each returns a `Request` and does no I/O;
 * the matching `process*Response` in responses.ts checks the answer. Every call sends
 * `Accept: application/json`; bodies are JSON.
 */
import type { AuthenticateBody } from './types.ts';

/** Client API base path (reference §1.1). */
export const CLIENT_API_PATH = '/edge/client/v1';
/** Header that carries a legacy API session token. */
export const SESSION_HEADER = 'zt-session';

/** How a request is authenticated: legacy `zt-session` token, or OIDC bearer access token. */
export interface ControllerAuth {
  sessionToken?: string;
  accessToken?: string;
}

function apiUrl(base: string | URL, path: string, query?: URLSearchParams): URL {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${CLIENT_API_PATH}${path}`;
  if (query) url.search = query.toString();
  return url;
}

/** Names a request in error messages: its method and its path under the client API. */
export function endpointOf(request: Request): string {
  const path = new URL(request.url).pathname;
  const i = path.indexOf(CLIENT_API_PATH);
  return `${request.method} ${i < 0 ? path : path.slice(i + CLIENT_API_PATH.length)}`;
}

function headers(auth: ControllerAuth | undefined, json: boolean): Headers {
  const h = new Headers({ accept: 'application/json' });
  if (json) h.set('content-type', 'application/json');
  if (auth?.sessionToken) h.set(SESSION_HEADER, auth.sessionToken);
  if (auth?.accessToken) h.set('authorization', `Bearer ${auth.accessToken}`);
  return h;
}

function get(url: URL, auth?: ControllerAuth): Request {
  return new Request(url, { method: 'GET', headers: headers(auth, false) });
}

function send(method: string, url: URL, auth: ControllerAuth | undefined, body?: unknown): Request {
  return new Request(url, {
    method,
    headers: headers(auth, body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export function versionRequest(base: string | URL): Request {
  return get(apiUrl(base, '/version'));
}

/** `GET /external-jwt-signers`: no auth headers (reference §11). */
export function externalJwtSignersRequest(base: string | URL): Request {
  return get(apiUrl(base, '/external-jwt-signers'));
}

/** `POST /authenticate?method=ext-jwt` with the IdP token as Bearer and no zt-session. */
export function authenticateExtJwtRequest(
  base: string | URL,
  jwt: string,
  body: AuthenticateBody = {},
): Request {
  const url = apiUrl(base, '/authenticate', new URLSearchParams({ method: 'ext-jwt' }));
  return send('POST', url, { accessToken: jwt }, body);
}

export function authenticatePasswordRequest(
  base: string | URL,
  username: string,
  password: string,
  body: AuthenticateBody = {},
): Request {
  const url = apiUrl(base, '/authenticate', new URLSearchParams({ method: 'password' }));
  return send('POST', url, undefined, { ...body, username, password });
}

export function currentApiSessionRequest(base: string | URL, auth: ControllerAuth): Request {
  return get(apiUrl(base, '/current-api-session'), auth);
}

/** `GET /current-identity`: who the session belongs to (reference §1.8). */
export function currentIdentityRequest(base: string | URL, auth: ControllerAuth): Request {
  return get(apiUrl(base, '/current-identity'), auth);
}

export function deleteApiSessionRequest(base: string | URL, auth: ControllerAuth): Request {
  return send('DELETE', apiUrl(base, '/current-api-session'), auth);
}

/** `POST /current-api-session/certificates {"csr": PEM}` (reference §1.6). */
export function createSessionCertificateRequest(
  base: string | URL,
  auth: ControllerAuth,
  csrPem: string,
): Request {
  return send('POST', apiUrl(base, '/current-api-session/certificates'), auth, { csr: csrPem });
}

export interface ServicesQuery {
  /**
   * Config type names (`intercept.v1`, `host.v1`) or `all`. Sent as repeated parameters: the client
   * API does not split a comma-joined value, which would name one unknown type (reference §1.7).
   */
  configTypes?: string[];
  /** ZitiQL filter, e.g. `name="svc"`. */
  filter?: string;
  limit?: number;
  offset?: number;
}

export function servicesRequest(
  base: string | URL,
  auth: ControllerAuth,
  q: ServicesQuery = {},
): Request {
  const query = new URLSearchParams();
  query.set('limit', String(q.limit ?? 100));
  query.set('offset', String(q.offset ?? 0));
  for (const type of q.configTypes ?? []) query.append('configTypes', type);
  if (q.filter) query.set('filter', q.filter);
  return get(apiUrl(base, '/services', query), auth);
}

/** `POST /sessions {serviceId, type}` (reference §1.8). */
export function createSessionRequest(
  base: string | URL,
  auth: ControllerAuth,
  serviceId: string,
  type: 'Dial' | 'Bind',
): Request {
  return send('POST', apiUrl(base, '/sessions'), auth, { serviceId, type });
}

/** `DELETE /sessions/{id}`: ends a Dial or Bind session (reference §1.8). */
export function deleteSessionRequest(
  base: string | URL,
  auth: ControllerAuth,
  sessionId: string,
): Request {
  return send('DELETE', apiUrl(base, `/sessions/${encodeURIComponent(sessionId)}`), auth);
}

export function serviceEdgeRoutersRequest(
  base: string | URL,
  auth: ControllerAuth,
  serviceId: string,
): Request {
  return get(apiUrl(base, `/services/${encodeURIComponent(serviceId)}/edge-routers`), auth);
}

/** `GET /.well-known/est/cacerts` at the server root: base64 PKCS#7 (reference §6.1). */
export function caCertsRequest(base: string | URL): Request {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/.well-known/est/cacerts`;
  return new Request(url, { method: 'GET', headers: { accept: 'application/pkcs7-mime' } });
}
