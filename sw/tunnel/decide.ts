/**
 * Where a request is decided: what the worker does with one request, from plain facts. Pure: no
 * worker, no network, no cache; `fetch-handler.ts` looks up what `decide` asks for and carries out
 * what it decides.
 *
 * The worker learns some facts only by asking (its routes, the cache, the tunnel), and asking can be
 * slow or touch the network. So `decide` asks for one fact at a time, only when the request needs
 * it (`look-up`); the caller adds the answer to the snapshot and asks again, until a decision is
 * final. After a failed attempt the caller adds the failure, and `decide` says what comes next.
 */
import type { BootstrapConfig } from '../../shared/config/bootstrap-config.ts';
import { decideRoute, type RouteContext } from '../../shared/routing/route-decision.ts';
import type { FailureCode } from '../../shared/status/failures.ts';
import { pendingRoute } from './pending-route.ts';

/** Every method the worker carries; any other meant for the app is refused (fail closed). */
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

/** What the request itself says. */
export interface RequestFacts {
  method: string;
  url: URL;
  /** `mode: 'navigate'`: a document the person asked for. */
  navigation: boolean;
  /** The app's public origin (the worker's own). */
  publicOrigin: string;
  /** The browser says it is online (`navigator.onLine`) as the request arrives. */
  online: boolean;
}

/** A failure to open the tunnel or to carry the request (`errors.ts` names it). */
export interface Failed {
  code: FailureCode;
  detail: string;
  /** The browser said it was online when it failed. */
  online: boolean;
  /** The router or controller refused the API session (renewing the identity may cure it). */
  sessionRefused?: boolean;
}

/** What the worker knows. A field left out has not been looked up. */
export interface Snapshot {
  /** The routing context; `null` once waited for and none to be had (nobody signed in, no controller). */
  routes?: RouteContext | null;
  /** The request comes from one of our own pages (bootstrap, status). */
  fromOwnPage?: boolean;
  /** Without routes: whether someone is signed in (or it cannot be told), and config.json if readable. */
  signIn?: { signedIn: boolean; config?: BootstrapConfig };
  /** A last copy of this document is kept (offline use). */
  keptDocument?: boolean;
  /** A copy of this immutable asset is kept. */
  keptAsset?: boolean;
  /** The tunnel for the stored identity: open, nobody signed in, identity expired, or failed to open. */
  tunnel?: 'open' | 'none' | 'expired' | Failed;
  /** Attempts to carry the request that failed, in order. */
  attempts?: readonly Failed[];
  /** After a refused session, the identity was renewed, found expired, or the tunnel lost. */
  renewal?: 'renewed' | 'expired' | 'lost';
}

/** A fact `decide` needs next; each fills the `Snapshot` field of the same name. */
export type Fact =
  | 'fromOwnPage'
  | 'routes'
  | 'signIn'
  | 'keptDocument'
  | 'keptAsset'
  | 'tunnel'
  | 'renewal';

/** Where a request goes, if it is ours at all: `service` undefined is the app's own origin. */
export type Route =
  | { kind: 'own-file' }
  | { kind: 'network' }
  | { kind: 'tunnel'; service?: string; host: string; port: number }
  | { kind: 'pending' };

export type Decision =
  /** One of our files (`/__zt/*`, `/sw.js`): not the tunnel's. */
  | { kind: 'own-file' }
  /** Not meant for the dark app: the browser fetches it. */
  | { kind: 'network' }
  /** Not decided yet: look this up and ask again. */
  | { kind: 'look-up'; fact: Fact }
  /** Answered from what is kept for offline use. */
  | { kind: 'cached'; copy: 'document' | 'asset' }
  /** Our sign-in page, at the app's URL (it re-enters the app when it can). */
  | { kind: 'bootstrap-page' }
  /** Carried over the tunnel. `service` undefined: the app's own service (config.json's). */
  | { kind: 'tunnel'; service?: string; host: string; port: number }
  /** Our error; nothing goes out. */
  | { kind: 'fail-closed'; code: FailureCode; detail: string; navigation: boolean };

const lookUp = (fact: Fact): Decision => ({ kind: 'look-up', fact });
const failClosed = (code: FailureCode, detail: string, navigation: boolean): Decision => ({
  kind: 'fail-closed',
  code,
  detail,
  navigation,
});

/**
 * Where a URL goes, by `decideRoute`. Without routes (a freshly started worker) the app's origin is
 * still decided, every other http(s) URL is pending.
 */
export function routeOf(url: URL, publicOrigin: string, routes: RouteContext | undefined): Route {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { kind: 'network' };
  // Without routes nothing but the app's origin can be told; its service is config.json's.
  const route = decideRoute(url, routes ?? { publicOrigin, appService: '', intercepts: [] });
  if (route.kind === 'own') return { kind: 'own-file' };
  if (route.kind === 'network') return routes ? { kind: 'network' } : { kind: 'pending' };
  const { host, port } = route;
  return url.origin === publicOrigin
    ? { kind: 'tunnel', host, port }
    : { kind: 'tunnel', service: route.service, host, port };
}

/** What the worker does with a request, given what it knows. */
export function decide(request: RequestFacts, known: Snapshot): Decision {
  const { method, url, navigation, publicOrigin } = request;
  const route = routeOf(url, publicOrigin, known.routes ?? undefined);
  if (route.kind === 'own-file' || route.kind === 'network') return route;
  if (!(TUNNEL_METHODS as readonly string[]).includes(method))
    return failClosed('method-not-supported', `the method ${method} is not carried`, false);
  if (route.kind === 'pending') return pending(request, known);

  const attempts = known.attempts ?? [];
  if (attempts.length > 0) return afterAttempts(request, known, route, attempts);

  // Offline (the browser says so): the last copy of the document at once, rather than a request
  // that would stall until the router connection times out.
  if (navigation && !request.online) {
    if (known.keptDocument === undefined) return lookUp('keptDocument');
    if (known.keptDocument) return { kind: 'cached', copy: 'document' };
  }
  // An immutable app asset seen before comes from the cache, tunnel or not.
  if (method === 'GET' && !navigation && url.search === '') {
    if (known.keptAsset === undefined) return lookUp('keptAsset');
    if (known.keptAsset) return { kind: 'cached', copy: 'asset' };
  }
  // Offline and nothing kept: fail at once (a page's load event waits for its images and scripts).
  if (!request.online)
    return failClosed('router-unreachable', 'this browser is offline', navigation);

  const tunnel = known.tunnel;
  if (tunnel === undefined) return lookUp('tunnel');
  if (typeof tunnel === 'object') return failed(request, known, tunnel);
  if (tunnel === 'none')
    return navigation
      ? { kind: 'bootstrap-page' }
      : failClosed('no-identity', 'sign in on this site first', false);
  if (tunnel === 'expired')
    return navigation
      ? { kind: 'bootstrap-page' }
      : failClosed('identity-expired', 'sign in again: reload the page', false);
  return route;
}

/**
 * A request of another origin before the worker has its routes (`pending-route.ts`). Our own pages
 * talk to the controller and the IdP, never to the app: they must reach them even while the worker
 * cannot tell which hosts are dark (say, to sign in again).
 */
function pending(request: RequestFacts, known: Snapshot): Decision {
  if (known.fromOwnPage === undefined) return lookUp('fromOwnPage');
  if (known.fromOwnPage) return { kind: 'network' };
  if (known.routes === undefined) return lookUp('routes');
  // The routes were waited for and none could be had (with them, `routeOf` decided).
  if (known.signIn === undefined) return lookUp('signIn');
  const { signedIn, config } = known.signIn;
  const decision = pendingRoute(request.url, {
    publicOrigin: request.publicOrigin,
    signedIn,
    ...(config ? { config } : {}),
  });
  if (decision.kind === 'fail')
    return failClosed(decision.failure, decision.detail, request.navigation);
  return decision.kind === 'tunnel'
    ? { kind: 'tunnel', service: decision.service, host: decision.host, port: decision.port }
    : { kind: 'network' };
}

/**
 * After a failed attempt. A refused session (idle expiry, logout elsewhere) gets the identity
 * renewed; a request without a body is then tried once more, without bothering the person.
 */
function afterAttempts(
  request: RequestFacts,
  known: Snapshot,
  route: Decision & { kind: 'tunnel' },
  attempts: readonly Failed[],
): Decision {
  const last = attempts[attempts.length - 1]!;
  if (attempts.length === 1 && last.sessionRefused) {
    if (known.renewal === undefined) return lookUp('renewal');
    if (known.renewal === 'renewed' && (request.method === 'GET' || request.method === 'HEAD'))
      return route;
    if (known.renewal === 'expired' && request.navigation) return { kind: 'bootstrap-page' };
  }
  return failed(request, known, last);
}

/** What a failure comes to for the browser. */
function failed(request: RequestFacts, known: Snapshot, failure: Failed): Decision {
  const { navigation } = request;
  // The bootstrap page re-checks the identity and re-enters the app. For an unreachable controller
  // that is also the cure when the cause is the controller's optional client-certificate request,
  // which Chromium can settle for a page but not for a worker's first request of the session.
  if (
    navigation &&
    (failure.code === 'identity-expired' || failure.code === 'controller-unreachable')
  )
    return { kind: 'bootstrap-page' };
  // Offline: the last copy of this document with a banner; the app's own offline handling follows.
  if (navigation && !failure.online && failure.code !== 'service-unavailable') {
    if (known.keptDocument === undefined) return lookUp('keptDocument');
    if (known.keptDocument) return { kind: 'cached', copy: 'document' };
  }
  return failClosed(failure.code, failure.detail, navigation);
}
