/**
 * Test helper: a controller as a `fetch`, answering the Edge Client API in its REST envelope
 * (`{data, meta}` / `{error: {code, message}}`) and the OIDC provider at `/oidc` as a followed fetch
 * ends (`response.url` set, no `Location` read), as shared/ziti/controller/oidc-session.ts expects.
 * It keeps the state a real controller keeps: legacy sessions, access tokens, single-use refresh
 * tokens, auth requests and codes, and signs every session certificate with a fabric PKI for the
 * CSR's key.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '../../../fabric/_internal/x509.ts';
import { type FabricPki, issueLeafCert, loadOrCreatePki } from '../../../fabric/pki.ts';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
/** An unsigned JWT of the shape the controller issues (the client only reads claims). */
export const jwt = (claims: Record<string, unknown>) =>
  `${b64({ alg: 'RS256', kid: 'k1', typ: 'JWT' })}.${b64(claims)}.c2ln`;

export const CLIENT_API = '/edge/client/v1';

/** A `Response` as a followed fetch ends: with its final URL. */
function at(url: string, body: BodyInit | null, init: ResponseInit = {}): Response {
  const res = new Response(body, init);
  Object.defineProperty(res, 'url', { value: url });
  return res;
}

const envelope = (status: number, data: unknown) => Response.json({ data, meta: {} }, { status });
const apiError = (status: number, code: string, message: string) =>
  Response.json({ error: { code, message }, meta: {} }, { status });

let pkiPromise: Promise<FabricPki> | undefined;
const testPki = () => {
  pkiPromise ??= loadOrCreatePki(mkdtempSync(join(tmpdir(), 'zt-fake-controller-')), {
    trustDomain: 'zt-test',
    routerHosts: ['127.0.0.1'],
  });
  return pkiPromise;
};

export interface FakeControllerOptions {
  baseUrl?: string;
  /** Whether `/version` lists OIDC_AUTH and the edge-oidc binding (and `/oidc` answers). */
  oidc?: boolean;
  /** The controller's clock minus ours, in ms. */
  clockOffsetMs?: number;
  accessTokenSeconds?: number;
  certificateSeconds?: number;
  identity?: { id: string; name: string };
  /** IdP tokens the ext-jwt signer accepts. */
  idpTokens?: string[];
}

export interface SeenRequest {
  method: string;
  path: string;
  url: URL;
  headers: Headers;
  body: string;
}

export function fakeController(o: FakeControllerOptions = {}) {
  const baseUrl = o.baseUrl ?? 'https://ctrl.example:1280';
  const identity = o.identity ?? { id: 'identity-1', name: 'alice' };
  const idpTokens = new Set(o.idpTokens ?? ['idp-token']);
  const accessSeconds = o.accessTokenSeconds ?? 1800;
  const certSeconds = o.certificateSeconds ?? 3600;
  const offer = o.oidc ?? true;
  let n = 0;
  const next = (what: string) => `${what}-${++n}`;

  const state = {
    /** zt-session tokens the controller knows. */
    legacy: new Map<string, string>(),
    /** Access tokens the controller takes, with their API session. */
    access: new Map<string, string>(),
    /** Refresh tokens not yet spent, with their API session. */
    refresh: new Map<string, string>(),
    revoked: [] as string[],
    authRequests: new Map<
      string,
      { state: string; redirectUri: string; challenge: string; code?: string }
    >(),
    certificates: [] as { apiSession: string; auth: string; csrPublicKey: string; pem: string }[],
    /** Every request, in order. */
    seen: [] as SeenRequest[],
    /** A fetch that rejects, as an unreachable controller does. */
    unreachable: false,
    /** Answer every `/oidc/oauth/token` with this status (a proxy in trouble, ...). */
    tokenStatus: undefined as number | undefined,
  };

  const now = () => Date.now() + (o.clockOffsetMs ?? 0);

  function issueAccess(apiSession: string): { access: string; refresh: string; idToken: string } {
    const iat = Math.floor(now() / 1000);
    const access = jwt({
      sub: identity.id,
      z_asid: apiSession,
      z_t: 'a',
      aud: ['openziti'],
      iat,
      exp: iat + accessSeconds,
      jti: next('jti'),
    });
    const refresh = jwt({ z_t: 'r', z_asid: apiSession, jti: next('refresh') });
    state.access.set(access, apiSession);
    state.refresh.set(refresh, apiSession);
    return { access, refresh, idToken: jwt({ sub: identity.id, z_t: 'i' }) };
  }

  /** The API session a REST request authenticates as (zt-session or Bearer), if any. */
  function apiSessionOf(req: Request): string | undefined {
    const legacy = req.headers.get('zt-session');
    if (legacy) return state.legacy.get(legacy);
    const bearer = /^Bearer (.+)$/.exec(req.headers.get('authorization') ?? '')?.[1];
    return bearer ? state.access.get(bearer) : undefined;
  }

  async function rest(req: Request, route: string): Promise<Response> {
    if (route === 'GET /version') {
      return envelope(200, {
        version: 'v1.7.2',
        revision: 'r',
        buildDate: '2025-01-01',
        runtimeVersion: 'go1.24',
        apiVersions: {
          'edge-client': { v1: { path: CLIENT_API } },
          ...(offer ? { 'edge-oidc': { v1: { path: '/oidc' } } } : {}),
        },
        capabilities: offer ? ['OIDC_AUTH', 'HA_CONTROLLER'] : ['HA_CONTROLLER'],
      });
    }
    if (route === 'POST /authenticate') {
      const bearer = /^Bearer (.+)$/.exec(req.headers.get('authorization') ?? '')?.[1];
      if (!bearer || !idpTokens.has(bearer))
        return apiError(401, 'UNAUTHORIZED', 'The request could not be completed');
      const id = next('api-session');
      const token = crypto.randomUUID();
      state.legacy.set(token, id);
      return envelope(200, {
        id,
        token,
        identityId: identity.id,
        identity,
        authQueries: [],
        expirationSeconds: 1800,
      });
    }
    const apiSession = apiSessionOf(req);
    if (!apiSession) return apiError(401, 'UNAUTHORIZED', 'The request could not be completed');
    if (route === 'GET /current-api-session')
      return envelope(200, { id: apiSession, token: 'x', identityId: identity.id, identity });
    if (route === 'GET /current-identity') return envelope(200, identity);
    if (route === 'POST /current-api-session/certificates') {
      const { csr } = JSON.parse(await req.text()) as { csr: string };
      const request = new x509.Pkcs10CertificateRequest(csr);
      const cert = await issueLeafCert(await testPki(), {
        publicKey: request.publicKey,
        subject: `CN=${identity.id}`,
        validitySeconds: certSeconds,
      });
      const pem = cert.toString('pem');
      state.certificates.push({
        apiSession,
        auth: req.headers.has('zt-session') ? 'zt-session' : 'bearer',
        csrPublicKey: Buffer.from(request.publicKey.rawData).toString('base64'),
        pem,
      });
      return envelope(201, { id: next('cert'), certificate: pem, cas: '' });
    }
    return apiError(404, 'NOT_FOUND', 'no such route');
  }

  async function oidc(req: Request, url: URL): Promise<Response> {
    const path = url.pathname.slice('/oidc'.length);
    if (path === '/authorize') {
      const q = url.searchParams;
      const id = next('auth-request');
      state.authRequests.set(id, {
        state: q.get('state') ?? '',
        redirectUri: q.get('redirect_uri') ?? '',
        challenge: q.get('code_challenge') ?? '',
      });
      return at(`${baseUrl}/oidc/login/ext-jwt?authRequestID=${id}`, 'please POST to this URL');
    }
    if (path === '/login/ext-jwt') {
      const bearer = /^Bearer (.+)$/.exec(req.headers.get('authorization') ?? '')?.[1];
      const { id } = JSON.parse(await req.text()) as { id: string };
      const ar = state.authRequests.get(id);
      if (!ar || !bearer || !idpTokens.has(bearer))
        return at(url.href, 'The authentication request failed', { status: 401 });
      ar.code = next('code');
      const back = new URL(ar.redirectUri);
      back.search = new URLSearchParams({ code: ar.code, state: ar.state }).toString();
      return at(back.href, '{}');
    }
    if (path === '/oauth/token') {
      if (state.tokenStatus)
        return new Response('<html>Bad Gateway</html>', { status: state.tokenStatus });
      const form = new URLSearchParams(await req.text());
      const refused = (error: string) =>
        Response.json({ error, error_description: error }, { status: 400 });
      if (form.get('client_id') !== 'openziti') return refused('invalid_client');
      let apiSession: string | undefined;
      if (form.get('grant_type') === 'authorization_code') {
        const entry = [...state.authRequests].find(([, a]) => a.code === form.get('code'));
        if (!entry) return refused('invalid_grant');
        const [id, ar] = entry;
        state.authRequests.delete(id);
        const digest = await crypto.subtle.digest(
          'SHA-256',
          new TextEncoder().encode(form.get('code_verifier') ?? ''),
        );
        if (Buffer.from(digest).toString('base64url') !== ar.challenge)
          return refused('invalid_grant');
        if (form.get('redirect_uri') !== ar.redirectUri) return refused('invalid_grant');
        apiSession = next('oidc-api-session');
      } else if (form.get('grant_type') === 'refresh_token') {
        const token = form.get('refresh_token') ?? '';
        apiSession = state.refresh.get(token);
        if (!apiSession) return refused('invalid_grant');
        state.refresh.delete(token);
      } else return refused('unsupported_grant_type');
      const t = issueAccess(apiSession);
      return Response.json({
        access_token: t.access,
        token_type: 'Bearer',
        refresh_token: t.refresh,
        expires_in: accessSeconds,
        id_token: t.idToken,
      });
    }
    if (path === '/revoke') {
      const form = new URLSearchParams(await req.text());
      const token = form.get('token') ?? '';
      state.revoked.push(token);
      state.refresh.delete(token);
      return new Response(null, { status: 200 });
    }
    return new Response('404 page not found', { status: 404 });
  }

  const fetchFn = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    state.seen.push({
      method: req.method,
      path: url.pathname,
      url,
      headers: req.headers,
      body: await req.clone().text(),
    });
    if (state.unreachable) throw new TypeError('fetch failed');
    if (url.origin !== new URL(baseUrl).origin) throw new TypeError(`no fake for ${url.origin}`);
    if (url.pathname.startsWith('/oidc/')) {
      if (!offer) return new Response('404 page not found', { status: 404 });
      return oidc(req, url);
    }
    if (url.pathname.startsWith(`${CLIENT_API}/`))
      return rest(req, `${req.method} ${url.pathname.slice(CLIENT_API.length)}`);
    return apiError(404, 'NOT_FOUND', 'no such route');
  };

  return {
    baseUrl,
    identity,
    state,
    fetch: fetchFn,
    /** A login session of this controller the way `login` gets it, without going through it. */
    issueOidc(apiSession = next('oidc-api-session')) {
      return { apiSession, ...issueAccess(apiSession) };
    },
    /** The requests to one path (`/oidc/oauth/token`, `${CLIENT_API}/version`, ...). */
    calls(path: string) {
      return state.seen.filter((s) => s.path === path);
    },
  };
}

export type FakeController = ReturnType<typeof fakeController>;
