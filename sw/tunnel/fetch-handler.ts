/// <reference lib="webworker" />
import type { RouteHandlerCallbackOptions, RouteMatchCallbackOptions } from 'workbox-core';
import { ConfigError } from '../../shared/config/bootstrap-config.ts';
import type { HttpResponse } from '../../shared/http/index.ts';
import { headerEntries } from '../../shared/http/request-head.ts';
import { RESERVED_PREFIX, SW_HEADER } from '../../shared/version.ts';
import {
  ZitiApiError,
  ZitiAuthenticationError,
  ZitiControllerUnreachableError,
  ZitiDialError,
  ZitiError,
} from '../../shared/ziti/index.ts';
import { announceCookies } from '../cookie-bridge.ts';
import {
  corsCheck,
  crossOriginPlan,
  exposedHeaders,
  preflightCheck,
  preflightHeaders,
} from '../cors.ts';
import { credentialsToAttach, type HttpCredentials, onAnswer } from '../http-auth.ts';
import { signInLocation } from '../http-auth-page.ts';
import {
  cachedAsset,
  isImmutableAsset,
  isShellDocument,
  keep,
  LAST_SHELL_KEY,
  offlineShell,
  shellKey,
} from '../offline-cache.ts';
import { fromPrecache } from '../precache.ts';
import { buildBrowserResponse, buildRequestHead, readRequestBody } from '../proxy-request.ts';
import { requestContext } from '../request-context.ts';
import { decideRoute } from '../../shared/routing/route-decision.ts';
import { UPLOAD_ID_HEADER } from '../../shared/page-worker/names.ts';
import { trackUpload } from '../upload-progress.ts';
import { failClosedResponse, type TunnelFailure } from './fail-closed.ts';
import { pendingRoute } from './pending-route.ts';
import { NoRouterError, RouterUnreachableError } from './router-channels.ts';
import { ServiceAccessError, type Tunnel } from './tunnel.ts';
import type { WorkerState } from './worker-state.ts';

declare const self: ServiceWorkerGlobalScope;

/** Every method a route is registered for; anything else meant for the app is refused (fail closed). */
export const TUNNEL_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
  'REPORT',
  'SEARCH',
] as const;

/** What the match callback hands the handler. `service` undefined means the app's own service. */
type TunnelMatch =
  | { pending: false; service?: string; host: string; port: number }
  | { pending: true };

const DEFAULT_PORT: Record<string, number> = { 'http:': 80, 'https:': 443 };

const isOwnPath = (path: string) => path.startsWith(RESERVED_PREFIX) || path === '/sw.js';

/**
 * Synchronous (workbox match callbacks are): the app's origin except our files, and hosts that a
 * dialable service intercepts. Before the intercept list is known (a freshly started worker), every
 * other http(s) request is matched as `pending` and decided in the handler.
 */
export function matchTunnelled(
  { url }: Pick<RouteMatchCallbackOptions, 'url' | 'request'>,
  state: WorkerState,
): TunnelMatch | false {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (url.origin === self.location.origin) {
    return isOwnPath(url.pathname)
      ? false
      : {
          pending: false,
          host: url.hostname,
          port: Number(url.port) || DEFAULT_PORT[url.protocol]!,
        };
  }
  const context = state.routeContext();
  if (!context) return { pending: true };
  const decision = decideRoute(url, context);
  return decision.kind === 'tunnel'
    ? { pending: false, service: decision.service, host: decision.host, port: decision.port }
    : false;
}

/** An error and the errors it wraps (`cause`), outermost first; the HTTP pool wraps dial failures. */
function* causes(err: unknown): Generator<Error> {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++)
    yield e;
}

/** Classifies a failure by the first cause that names one (the HTTP pool wraps dial failures). */
function failureKind(err: unknown): [TunnelFailure, string] {
  const message = err instanceof Error ? err.message : String(err);
  for (const e of causes(err)) {
    if (e instanceof NoRouterError) return ['no-router', e.message];
    if (e instanceof RouterUnreachableError) return ['router-unreachable', e.message];
    if (e instanceof ServiceAccessError) return ['service-unavailable', e.message];
    if (e instanceof ZitiControllerUnreachableError) return ['controller-unreachable', e.message];
    if (e instanceof ZitiApiError) {
      return e.status === 401
        ? ['identity-expired', e.message]
        : ['service-unavailable', e.message];
    }
    if (e instanceof ZitiDialError) return ['dial-failed', e.message];
    if (e instanceof ZitiError) return ['router-unreachable', e.message];
    if (e instanceof ConfigError) return ['controller-unreachable', e.message];
  }
  return ['upstream-error', message];
}

/** The bootstrap page, for navigations that need a login; the address bar keeps the app's URL. */
async function bootstrapPage(): Promise<Response> {
  const page = await fetch(`${self.location.origin}/__zt/index.html`, { cache: 'no-cache' }).catch(
    async (err: unknown) => {
      const cached = await fromPrecache('/__zt/index.html');
      if (!cached) throw err;
      return cached;
    },
  );
  return new Response(page.body, {
    status: 200,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      [SW_HEADER]: 'bootstrap',
    },
  });
}

/** The document a request came from (for per-page cookie views): its referrer, else the URL itself. */
const pageUrl = (request: Request, url: URL) =>
  request.referrer?.startsWith(self.location.origin) ? request.referrer : url.href;

/** Keeps immutable assets and documents of the app's own origin as they pass (best effort). */
function keepForOffline(
  request: Request,
  url: URL,
  built: Response,
  event: ExtendableEvent | undefined,
): void {
  const candidate = {
    method: request.method,
    mode: request.mode,
    url,
    status: built.status,
    headers: built.headers,
  };
  let work: Promise<void> | undefined;
  if (isImmutableAsset(candidate)) work = keep(url.href, built.clone());
  else if (isShellDocument(candidate))
    work = keep([shellKey(url), `${url.origin}${LAST_SHELL_KEY}`], built.clone());
  if (work) event?.waitUntil(work);
}

/**
 * Pages of ours shown at an app URL (the bootstrap page answering a navigation), by client id: like
 * the pages under our prefix, they talk to the controller and the IdP, never to the app.
 */
const ownPages = new Set<string>();

export async function handleTunnelled(
  options: RouteHandlerCallbackOptions,
  state: WorkerState,
): Promise<Response> {
  const response = await handle(options, state);
  const client = (options.event as FetchEvent | undefined)?.resultingClientId;
  if (client && response.headers.get(SW_HEADER) === 'bootstrap') {
    if (ownPages.size >= 64) ownPages.clear();
    ownPages.add(client);
  }
  return response;
}

async function handle(
  { request, url, params, event }: RouteHandlerCallbackOptions,
  state: WorkerState,
): Promise<Response> {
  const navigation = request.mode === 'navigate';
  let match = params as TunnelMatch;
  if (match.pending) {
    // Our own pages (bootstrap, status) talk to the controller and the IdP, never to the app: they
    // must reach them even while the worker cannot tell which hosts are dark (say, to sign in again).
    if (await fromOwnPage(event)) return fetch(request);
    const decided = await decidePending(url, state);
    if (decided instanceof Response) return decided;
    if (decided === 'network') return fetch(request);
    match = decided;
  }

  // Offline (the browser says so): the last copy of the document at once, rather than a request
  // that would stall until the router connection times out.
  if (navigation && !navigator.onLine) {
    const shell = await offlineShell(url);
    if (shell) return shell;
  }

  // An immutable app asset seen before comes from the cache, tunnel or not.
  if (request.method === 'GET' && !navigation && url.search === '') {
    const cached = await cachedAsset(url.href);
    if (cached) return cached;
  }

  // Offline and nothing kept: fail at once, rather than stall until the router connection times
  // out (a page's load event waits for its images and scripts).
  if (!navigator.onLine)
    return failClosedResponse('router-unreachable', 'this browser is offline', navigation);

  let tunnel: Tunnel | undefined;
  try {
    tunnel = await state.tunnel();
  } catch (err) {
    return failure(err, navigation, url);
  }
  if (!tunnel || state.expired) {
    if (navigation) return bootstrapPage();
    return tunnel
      ? failClosedResponse('identity-expired', 'sign in again: reload the page', false)
      : failClosedResponse('no-identity', 'sign in on this site first', false);
  }
  const upkeep = state.maintain();
  if (upkeep) event.waitUntil(upkeep);
  // Documents and immutable assets of the app's own origin are kept for offline use as they pass.
  const send = async (through: Tunnel) => {
    const built = await carry(request, url, match, state, through);
    if (match.service === undefined) keepForOffline(request, url, built, event);
    return built;
  };
  try {
    return await send(tunnel);
  } catch (err) {
    // The router or controller refused the session (idle expiry, logout elsewhere): renew the
    // identity now; a request without a body is then tried once more, without bothering the person.
    if (isSessionRefusal(err)) {
      await state.maintain(true);
      const renewed = state.expired ? undefined : await state.tunnel().catch(() => undefined);
      if (renewed && (request.method === 'GET' || request.method === 'HEAD')) {
        try {
          return await send(renewed);
        } catch (again) {
          return failure(again, navigation, url);
        }
      }
      if (state.expired && navigation) return bootstrapPage();
    }
    return failure(err, navigation, url);
  }
}

/** Whether the request comes from one of our own pages (under the reserved prefix). */
async function fromOwnPage(event: ExtendableEvent | undefined): Promise<boolean> {
  const clientId = (event as FetchEvent | undefined)?.clientId;
  if (!clientId) return false;
  if (ownPages.has(clientId)) return true;
  const client = await self.clients.get(clientId);
  return client !== undefined && new URL(client.url).pathname.startsWith(RESERVED_PREFIX);
}

/** Where a request of another origin goes once what decides it is known (`pending-route.ts`). */
async function decidePending(
  url: URL,
  state: WorkerState,
): Promise<{ pending: false; service: string; host: string; port: number } | 'network' | Response> {
  const routes = await state.routeContextReady();
  const signedIn = routes
    ? true
    : await state.tunnel().then(
        (tunnel) => tunnel !== undefined,
        () => true,
      );
  const config = routes ? undefined : await state.config().catch(() => undefined);
  const decision = pendingRoute(url, {
    publicOrigin: self.location.origin,
    ...(routes ? { routes } : {}),
    signedIn,
    ...(config ? { config } : {}),
  });
  if (decision.kind === 'fail') return failClosedResponse(decision.failure, decision.detail, false);
  return decision.kind === 'tunnel' ? { pending: false, ...decision } : 'network';
}

const isSessionRefusal = (err: unknown): boolean =>
  [...causes(err)].some(
    (e) => e instanceof ZitiAuthenticationError || (e instanceof ZitiApiError && e.status === 401),
  );

async function failure(err: unknown, navigation: boolean, url: URL): Promise<Response> {
  const [kind, detail] = failureKind(err);
  // The bootstrap page re-checks the identity and re-enters the app. For an unreachable controller
  // that is also the cure when the cause is the controller's optional client-certificate request,
  // which Chromium can settle for a page but not for a worker's first request of the session.
  if ((kind === 'identity-expired' || kind === 'controller-unreachable') && navigation)
    return bootstrapPage();
  // Offline: the last copy of this document with a banner; the app's own offline handling follows.
  if (navigation && !navigator.onLine && kind !== 'service-unavailable') {
    const shell = await offlineShell(url);
    if (shell) return shell;
  }
  return failClosedResponse(kind, detail, navigation);
}

/** One request over the tunnel: the cookie jar, the HTTP pool of its service, the browser response. */
async function carry(
  request: Request,
  url: URL,
  match: { service?: string; host: string; port: number },
  state: WorkerState,
  tunnel: Tunnel,
): Promise<Response> {
  const serviceName = match.service ?? tunnel.identity.config.service;
  const publicOrigin = self.location.origin;
  const ownApp = match.service === undefined;
  // The dark app is dialled at its intercept address; the Host header follows the config.
  const target = ownApp
    ? await tunnel.appTarget(serviceName, { host: match.host, port: match.port })
    : { host: match.host, port: match.port };
  // Cookies, Origin and fetch metadata as the browser's network layer would decide them (CSRF).
  const context = requestContext(request, publicOrigin);
  const jar = await state.cookieJar();
  const cookie =
    context.cookies === 'omit' ? '' : await jar.cookieHeader(url.href, context.cookies);
  const { body, contentLength } = await readRequestBody(request);
  // An XHR upload tagged by the shim gets its progress reported back (browsers stop firing
  // xhr.upload events once a worker answers); the tag itself never reaches the app.
  const upload = trackUpload(
    request.headers,
    contentLength !== undefined ? { total: contentLength } : {},
  );
  // HTTP authentication (`http-auth.ts`): stored credentials go along where the browser would send
  // them; never over an Authorization the page set, never with credentials omitted.
  const pageAuthorization = request.headers.has('authorization');
  const omitCredentials = context.cookies === 'omit';
  let sent = credentialsToAttach(state.httpAuth, { url, pageAuthorization, omitCredentials });
  const headFor = (credentials: HttpCredentials | undefined) => {
    const built = buildRequestHead(request, {
      publicOrigin,
      ...(ownApp && tunnel.identity.config.upstreamHost === 'intercept'
        ? { host: `${target.host}:${target.port}` }
        : {}),
      cookie,
      context,
      userAgent: navigator.userAgent,
      ...(credentials ? { authorization: credentials.authorization } : {}),
    });
    if (upload)
      built.headers = built.headers.filter(([name]) => name.toLowerCase() !== UPLOAD_ID_HEADER);
    return built;
  };
  let head = headFor(sent);
  const pool = tunnel.pool(serviceName, target);
  // Another origin (a dark sibling host): the same-origin policy, as the browser would apply it.
  const plan = ownApp
    ? undefined
    : crossOriginPlan({
        method: request.method,
        mode: request.mode,
        destination: request.destination,
        credentials: request.credentials,
        headers: headerEntries(request.headers),
      });
  if (plan?.kind === 'refuse') return corsError(url, plan.reason);
  if (plan?.kind === 'cors' && plan.preflight) {
    const refused = await preflight(pool, request, url, plan.preflight, publicOrigin);
    if (refused) return corsError(url, refused);
  }
  let response: HttpResponse;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await pool.request({
        ...head,
        ...(body ? { body } : {}),
        ...(contentLength !== undefined ? { contentLength } : {}),
        ...(upload ? { onUploadProgress: (sent: number) => upload.onUploadProgress(sent) } : {}),
        signal: request.signal,
      });
      upload?.finish();
    } catch (err) {
      upload?.finish(true);
      throw err;
    }
    const outcome = onAnswer(state.httpAuth, {
      url,
      status: response.status,
      challenges: response.rawHeaders
        .filter(([name]) => name.toLowerCase() === 'www-authenticate')
        .map(([, value]) => value),
      sent,
      navigation: request.mode === 'navigate',
      mayRetry: attempt === 0 && body === null,
      mayAuthenticate: !pageAuthorization && !omitCredentials,
    });
    if (outcome.kind === 'pass') break;
    // The 401 is answered by us: its cookies still count, its body is not needed.
    if (response.setCookies.length > 0) await jar.setFromResponse(url.href, response.setCookies);
    await response.body?.cancel().catch(() => {});
    if (outcome.kind === 'sign-in') {
      // Our page asks (under our prefix, served by this worker), then returns to this URL.
      const { realm, failed } = outcome;
      return Response.redirect(signInLocation(publicOrigin, { url, realm, failed }), 303);
    }
    sent = outcome.credentials;
    head = headFor(sent);
  }
  if (plan?.kind === 'cors') {
    const refused = corsCheck(response.headers, publicOrigin, request.credentials);
    if (refused) {
      await response.body?.cancel().catch(() => {});
      return corsError(url, refused);
    }
  }
  if (response.setCookies.length > 0) {
    await jar.setFromResponse(url.href, response.setCookies);
    if (ownApp) await announceCookies(jar, pageUrl(request, url));
  }
  // Only documents get the shim: HTML that the app fetches is data, not a page to run in.
  const document = request.destination === 'document' || request.destination === 'iframe';
  const built = buildBrowserResponse(response, {
    publicOrigin,
    darkOrigins: [`http://${target.host}:${target.port}`, `https://${target.host}:${target.port}`],
    injectShim: document,
  });
  if (plan?.kind === 'cors') {
    const { status, statusText } = built;
    return new Response(built.body, {
      status,
      statusText,
      headers: exposedHeaders(built.headers, request.credentials),
    });
  }
  if (plan?.kind === 'no-cors' && plan.emptyForScript) {
    // The browser would hand the script an opaque response: nothing to read.
    await built.body?.cancel().catch(() => {});
    return new Response(null, { status: 200 });
  }
  return built;
}

/** A network error, as the browser gives for a cross-origin request the policy refuses. */
function corsError(url: URL, reason: string): Response {
  console.warn(`[zt] ${url.origin}: the cross-origin request was refused: ${reason}`);
  return Response.error();
}

/** Sends the CORS preflight over the tunnel; undefined when the actual request may follow. */
async function preflight(
  pool: ReturnType<Tunnel['pool']>,
  request: Request,
  url: URL,
  wanted: { method: string; headers: string[] },
  publicOrigin: string,
): Promise<string | undefined> {
  const options = new Request(url, {
    method: 'OPTIONS',
    headers: [['Accept', '*/*'], ...preflightHeaders(wanted)],
    referrer: request.referrer,
    referrerPolicy: request.referrerPolicy,
    credentials: 'omit',
    mode: 'cors',
  });
  const answer = await pool.request({
    ...buildRequestHead(options, { publicOrigin, userAgent: navigator.userAgent }),
    signal: request.signal,
  });
  await answer.body?.cancel().catch(() => {});
  return preflightCheck(answer.status, answer.headers, publicOrigin, request.credentials, wanted);
}
