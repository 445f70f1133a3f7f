/// <reference lib="webworker" />
import type { RouteHandlerCallbackOptions, RouteMatchCallbackOptions } from 'workbox-core';
import type { HttpResponse } from '../../shared/http/index.ts';
import { headerEntries } from '../../shared/http/request-head.ts';
import { UPLOAD_ID_HEADER } from '../../shared/page-worker/names.ts';
import { RESERVED_PREFIX, SW_HEADER } from '../../shared/version.ts';
import { announceCookies } from '../cookie-bridge.ts';
import type { CookieJar } from '../cookie-jar.ts';
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
import { trackUpload } from '../upload-progress.ts';
import {
  decide,
  type Fact,
  type Failed,
  type RequestFacts,
  routeOf,
  type Snapshot,
} from './decide.ts';
import { StreamingKeepAlive, untilDelivered } from './delivery.ts';
import { classifyFailure, isSessionRefusal } from './errors.ts';
import { failClosedResponse } from './fail-closed.ts';
import { resumable, resumePlan } from './resumable.ts';
import type { Tunnel } from './tunnel.ts';
import type { WorkerState } from './worker-state.ts';

declare const self: ServiceWorkerGlobalScope;

export { TUNNEL_METHODS } from './decide.ts';

/** What the match callback hands workbox: where the request goes, or `pending` (decided in the handler). */
type TunnelMatch =
  | { pending: false; service?: string; host: string; port: number }
  | { pending: true };

/**
 * Synchronous (workbox match callbacks are): whether the request is the tunnel's, by `routeOf`. A
 * freshly started worker that does not know its routes yet matches every other http(s) request as
 * `pending`; `decide` settles it.
 */
export function matchTunnelled(
  { url }: Pick<RouteMatchCallbackOptions, 'url' | 'request'>,
  state: WorkerState,
): TunnelMatch | false {
  const route = routeOf(url, self.location.origin, state.routeContext());
  if (route.kind === 'pending') return { pending: true };
  return route.kind === 'tunnel' ? { pending: false, ...route } : false;
}

/**
 * Pages of ours shown at an app URL (the bootstrap page answering a navigation), by client id: like
 * the pages under our prefix, they talk to the controller and the IdP, never to the app.
 */
const ownPages = new Set<string>();

/** At most this many questions and attempts per request; `decide` needs far fewer. */
const MAX_STEPS = 16;

/** Keeps the worker alive while tunnelled bodies stream (see `delivery.ts`). */
const streamingKeepAlive = new StreamingKeepAlive();
const noop = () => {};

/**
 * Carries out what `decide` (`decide.ts`) decides for one request: looks up each fact it asks for,
 * then answers from the cache, with our page or error, from the network, or over the tunnel.
 */
export async function handleTunnelled(
  { request, url, event }: RouteHandlerCallbackOptions,
  state: WorkerState,
): Promise<Response> {
  const facts: RequestFacts = {
    method: request.method,
    url,
    navigation: request.mode === 'navigate',
    publicOrigin: self.location.origin,
    online: navigator.onLine,
  };
  let known: Snapshot = { ...optional('routes', state.routeContext()) };
  let tunnel: Tunnel | undefined;
  let kept: Response | undefined;

  /** The answer to one question of `decide`, as the snapshot field of the same name. */
  const lookUp = async (fact: Fact): Promise<Snapshot> => {
    switch (fact) {
      case 'fromOwnPage':
        return { fromOwnPage: await fromOwnPage(event) };
      case 'routes':
        return { routes: (await state.routeContextReady()) ?? null };
      case 'signIn': {
        const signedIn = await state.tunnel().then(
          (t) => t !== undefined,
          () => true, // cannot be told: count as signed in (holds more back)
        );
        const config = await state.config().catch(() => undefined);
        return { signIn: { signedIn, ...optional('config', config) } };
      }
      case 'keptDocument':
        kept = await offlineShell(url);
        return { keptDocument: kept !== undefined };
      case 'keptAsset':
        kept = await cachedAsset(url.href);
        return { keptAsset: kept !== undefined };
      case 'tunnel': {
        try {
          tunnel = await state.tunnel();
        } catch (err) {
          return { tunnel: failedBy(err) };
        }
        if (!tunnel) return { tunnel: 'none' };
        if (state.expired) return { tunnel: 'expired' };
        // Keep-alive and renewal when due (`lifecycle.ts`), beside this request.
        const upkeep = state.maintain();
        if (upkeep) event.waitUntil(upkeep);
        return { tunnel: 'open' };
      }
      case 'renewal':
        await state.maintain(true);
        if (state.expired) return { renewal: 'expired' };
        tunnel = await state.tunnel().catch(() => undefined);
        return { renewal: tunnel ? 'renewed' : 'lost' };
    }
  };

  for (let step = 0; step < MAX_STEPS; step++) {
    const decision = decide(facts, known);
    switch (decision.kind) {
      case 'look-up':
        known = { ...known, ...(await lookUp(decision.fact)) };
        break;
      case 'tunnel':
        try {
          const client = (event as FetchEvent | undefined)?.clientId;
          const carrying = carry(request, url, decision, state, tunnel!, client);
          // Until the response head: a long upload, or a slow server, must not outlive the worker.
          streamingKeepAlive.track(carrying.then(noop, noop));
          const built = await carrying;
          // Documents and immutable assets of the app's own origin are kept for offline use.
          if (decision.service === undefined) keepForOffline(request, url, built, event);
          // The event lasts while the body streams: a stopped worker would cut it short.
          const { response, delivered } = untilDelivered(built);
          event.waitUntil(delivered);
          streamingKeepAlive.track(delivered);
          return response;
        } catch (err) {
          known = { ...known, attempts: [...(known.attempts ?? []), failedBy(err)] };
        }
        break;
      case 'cached':
        return kept!;
      case 'bootstrap-page': {
        const client = (event as FetchEvent | undefined)?.resultingClientId;
        if (client) {
          if (ownPages.size >= 64) ownPages.clear();
          ownPages.add(client);
        }
        return bootstrapPage();
      }
      case 'fail-closed':
        return failClosedResponse(decision.code, decision.detail, decision.navigation);
      case 'network':
      case 'own-file':
        return fetch(request);
    }
  }
  return failClosedResponse('upstream-error', 'the request could not be decided', facts.navigation);
}

/** `{ [key]: value }`, or nothing when the value is undefined (exact optional properties). */
const optional = <K extends string, V>(key: K, value: V | undefined) =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };

/** A failure as `decide` sees it: named (`errors.ts`), with the browser's online state now. */
const failedBy = (err: unknown): Failed => ({
  ...classifyFailure(err),
  online: navigator.onLine,
  sessionRefused: isSessionRefusal(err),
});

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

/** Whether the request comes from one of our own pages (under the reserved prefix). */
async function fromOwnPage(event: ExtendableEvent | undefined): Promise<boolean> {
  const clientId = (event as FetchEvent | undefined)?.clientId;
  if (!clientId) return false;
  if (ownPages.has(clientId)) return true;
  const client = await self.clients.get(clientId);
  return client !== undefined && new URL(client.url).pathname.startsWith(RESERVED_PREFIX);
}

/** `host:port`, an IPv6 address in brackets. */
const authority = (host: string, port: number) =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

/**
 * One request over the tunnel: the HTTP pool of its service, the same-origin policy for another
 * origin (`cors.ts`), the cookie jar, the browser response. Throws what the tunnel throws.
 */
async function carry(
  request: Request,
  url: URL,
  to: { service?: string; host: string; port: number },
  state: WorkerState,
  tunnel: Tunnel,
  clientId?: string,
): Promise<Response> {
  const publicOrigin = self.location.origin;
  const ownApp = to.service === undefined;
  const serviceName = to.service ?? tunnel.identity.config.service;
  // Opened beside the target: a resumed worker evaluates tough-cookie (`tough-cookie.ts`) while
  // its router connection opens. Site comparisons (SameSite, the CORS plan) need it.
  const jarOpened = state.cookieJar();
  jarOpened.catch(() => {}); // awaited below
  // The dark app is dialled at its intercept address; the Host header follows the config.
  const target = ownApp
    ? await tunnel.appTarget(serviceName, { host: to.host, port: to.port })
    : { host: to.host, port: to.port };
  const pool = tunnel.pool(serviceName, target);
  const jar = await jarOpened;
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

  const host =
    ownApp && tunnel.identity.config.upstreamHost === 'intercept'
      ? authority(target.host, target.port)
      : undefined;
  // An EventSource reopening the app's stream resumes where it was (`event-stream.ts`).
  const resumeFrom = ownApp
    ? state.eventStreams.lastEventIdFor(clientId, url.href, request.headers)
    : undefined;
  const answer = await exchange(request, url, pool, jar, state, host, resumeFrom);
  if (answer instanceof Response) return answer;
  const response = answer;

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
  const dark = authority(target.host, target.port);
  const built = buildBrowserResponse(response, {
    publicOrigin,
    darkOrigins: [`http://${dark}`, `https://${dark}`],
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
  if (!ownApp) return built;
  const sent = resumeFrom ?? request.headers.get('last-event-id') ?? '';
  return state.eventStreams.observe(clientId, url.href, sent, built);
}

/**
 * Sends the request and takes its answer, with HTTP authentication (`http-auth.ts`): stored
 * credentials go along where the browser would send them (never over an Authorization the page
 * set, never with credentials omitted); a 401 with a Basic challenge is sent once more with the
 * realm's credentials, or, for a navigation, answered by a redirect to our sign-in page.
 */
async function exchange(
  request: Request,
  url: URL,
  pool: ReturnType<Tunnel['pool']>,
  jar: CookieJar,
  state: WorkerState,
  host: string | undefined,
  lastEventId?: string,
): Promise<HttpResponse | Response> {
  const publicOrigin = self.location.origin;
  // Cookies, Origin and fetch metadata as the browser's network layer would decide them (CSRF).
  const context = requestContext(request, publicOrigin);
  const cookie =
    context.cookies === 'omit' ? '' : await jar.cookieHeader(url.href, context.cookies);
  const { body, contentLength } = await readRequestBody(request);
  // An XHR upload tagged by the shim gets its progress reported back (browsers stop firing
  // xhr.upload events once a worker answers); the tag itself never reaches the app.
  const upload = trackUpload(
    request.headers,
    contentLength !== undefined ? { total: contentLength } : {},
  );
  const pageAuthorization = request.headers.has('authorization');
  const omitCredentials = context.cookies === 'omit';
  const headFor = (credentials: HttpCredentials | undefined) => {
    const built = buildRequestHead(request, {
      publicOrigin,
      ...(host ? { host } : {}),
      cookie,
      context,
      userAgent: navigator.userAgent,
      ...(credentials ? { authorization: credentials.authorization } : {}),
    });
    if (upload)
      built.headers = built.headers.filter(([name]) => name.toLowerCase() !== UPLOAD_ID_HEADER);
    if (lastEventId !== undefined) built.headers.push(['Last-Event-ID', lastEventId]);
    return built;
  };
  let sent = credentialsToAttach(state.httpAuth, { url, pageAuthorization, omitCredentials });
  for (let attempt = 0; ; attempt++) {
    let response: HttpResponse;
    try {
      response = await pool.request({
        ...headFor(sent),
        ...(body ? { body } : {}),
        ...(contentLength !== undefined ? { contentLength } : {}),
        ...(upload ? { onUploadProgress: (n: number) => upload.onUploadProgress(n) } : {}),
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
    if (outcome.kind === 'pass') {
      const plan = resumePlan(request.method, request.headers, response);
      if (plan === undefined) return response;
      const credentials = sent;
      return resumable(
        response,
        plan,
        async (first, last, ifRange) => {
          const head = headFor(credentials);
          head.headers = head.headers.filter(([name]) => name.toLowerCase() !== 'accept-encoding');
          head.headers.push(
            ['Range', `bytes=${first}-${last}`],
            ['If-Range', ifRange],
            ['Accept-Encoding', 'identity'],
          );
          const next = await pool.request({ ...head, signal: request.signal });
          if (next.setCookies.length > 0) await jar.setFromResponse(url.href, next.setCookies);
          return next;
        },
        {
          onLost: (why) =>
            console.warn(`[zt] ${url.href}: the download stopped and cannot go on: ${why}`),
        },
      );
    }
    // The 401 is answered by us: its cookies still count, its body is not needed.
    if (response.setCookies.length > 0) await jar.setFromResponse(url.href, response.setCookies);
    await response.body?.cancel().catch(() => {});
    if (outcome.kind === 'sign-in') {
      // Our page asks (under our prefix, served by this worker), then returns to this URL.
      const { realm, failed } = outcome;
      return Response.redirect(signInLocation(publicOrigin, { url, realm, failed }), 303);
    }
    sent = outcome.credentials;
  }
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
