/// <reference lib="webworker" />
/**
 * The service worker: every request of the app's origin (and of hosts a dialable service intercepts)
 * goes over OpenZiti; our own files go to the network; nothing meant for the dark app ever does.
 */
import { clientsClaim } from 'workbox-core';
import { Route, Router } from 'workbox-routing';
import type { HTTPMethod } from 'workbox-routing/utils/constants.js';
import {
  isCookieBridgeRequest,
  isKeepAliveFetchMessage,
  isKeepAliveMessage,
  isRpcConnectMessage,
  isWebSocketConnectMessage,
  routesPrelude,
} from '../shared/page-worker/messages.ts';
import { COOKIE_CHANNEL, WORKER_PING_PATH } from '../shared/page-worker/names.ts';
import { exposeWorkerApi } from '../shared/page-worker/rpc.ts';
import { STATUS_FILE, STATUS_PATH } from '../shared/status/protocol.ts';
import { BUILD_VERSION, RESERVED_PREFIX, SW_HEADER } from '../shared/version.ts';
import { e2eReady, useSodiumWasm } from '../shared/ziti/index.ts';
import { handleCookieBridgeRequest, withCookieSnapshot } from './cookie-bridge.ts';
import { SIGN_IN_PATH, signInPage } from './http-auth-page.ts';
import { answerKeepalive } from './keepalive-request.ts';
import { APP_CACHE, dropOldCaches, forgetCachedKeys } from './offline-cache.ts';
import { fromPrecache, precache, precacheRoute, startPrecache } from './precache.ts';
import { sodiumWasm } from './sodium-wasm.ts';
import { countWebSocket, statusCall } from './status.ts';
import { handleTunnelled, matchTunnelled, TUNNEL_METHODS } from './tunnel/fetch-handler.ts';
import { startPhases } from './tunnel/start-phases.ts';
import { openTunnelledWebSocket } from './tunnel/websocket-open.ts';
import { WorkerState } from './tunnel/worker-state.ts';
import { bridgeWebSocket, pageAliveOf } from './websocket-bridge.ts';
import { workerApi } from './worker-api.ts';
import { imported as importedParts, importPartsWhileInstalling } from './worker-parts.ts';

declare const self: ServiceWorkerGlobalScope;

// The worker's own code starts here, after its libraries' top-level code ran.
startPhases.mark('script');
const state = new WorkerState();
// libsodium starts its wasm when the script loads, so it is ready before the first dial: when.
useSodiumWasm(sodiumWasm);
e2eReady().then(
  () => startPhases.mark('sodium'),
  () => {},
);
/** When this worker instance started (a restarted worker has a later one): diagnostics. */
const STARTED_AT = Date.now();

// A new build takes over at once; pages wait for `controllerchange`, never a timer. Its parts are
// imported now (the only time a worker may fetch scripts; later starts import them on first use),
// while the event is dispatched: a part that cannot be imported fails the install.
self.addEventListener('install', (event) => {
  event.waitUntil(new Promise<void>((resolve) => resolve(importPartsWhileInstalling())));
  void self.skipWaiting();
});
clientsClaim();

// Our shell is precached at install; caches of older layouts go on activate.
startPrecache();
self.addEventListener('activate', (event) => {
  event.waitUntil(dropOldCaches([APP_CACHE, precache.strategy.cacheName]));
});

const router = new Router();

/** Answered at once by the worker itself: did this request reach it (`WORKER_PING_PATH`). */
router.registerRoute(
  new Route(
    ({ url }) => url.origin === self.location.origin && url.pathname === WORKER_PING_PATH,
    async () =>
      new Response(null, {
        status: 204,
        headers: { 'cache-control': 'no-store', [SW_HEADER]: BUILD_VERSION },
      }),
  ),
);

/** Answered by the service worker itself: its build, scope and tunnel state (diagnostics, tests). */
router.registerRoute(
  new Route(
    ({ url }) =>
      url.origin === self.location.origin && url.pathname === `${RESERVED_PREFIX}sw-status`,
    async () => {
      const tunnel = await state.tunnel().catch(() => undefined);
      const body = {
        version: BUILD_VERSION,
        scope: self.registration.scope,
        startedAt: STARTED_AT,
        tunnel: tunnel?.status() ?? null,
        expired: state.expired,
        upkeep: state.upkeep ?? null,
        // ms from the worker's start to each phase of its first tunnelled request
        start: startPhases,
        // the parts (worker-parts.ts) this worker instance has imported
        parts: importedParts,
      };
      return new Response(JSON.stringify(body), {
        headers: {
          'content-type': 'application/json',
          'cache-control': 'no-store',
          [SW_HEADER]: BUILD_VERSION,
        },
      });
    },
  ),
);

/** The status page (shared/status/): our precached copy, so it opens offline too. */
router.registerRoute(
  new Route(
    ({ url }) => url.origin === self.location.origin && url.pathname === STATUS_PATH,
    async () => (await fromPrecache(STATUS_FILE)) ?? fetch(STATUS_FILE),
  ),
);

/**
 * The shim, with what it must know before any app script runs in front of it: the page's
 * `document.cookie` (browsers ignore Set-Cookie on a worker's responses) and the routing context (so
 * that WebSockets to dark hosts are carried too).
 */
router.registerRoute(
  new Route(
    ({ url }) =>
      url.origin === self.location.origin && url.pathname === `${RESERVED_PREFIX}shim.js`,
    async ({ request }) => {
      // The precached copy: the shim of this worker's own build (they speak one page-worker
      // protocol), with no round trip to the origin in front of every page's scripts. The network
      // only before the precache is filled.
      const shim = (await fromPrecache(`${RESERVED_PREFIX}shim.js`)) ?? (await fetch(request));
      const page = request.referrer || self.location.origin;
      const [jar, routes] = await Promise.all([state.cookieJar(), state.routeContextReady()]);
      return withCookieSnapshot(shim, jar, page, routesPrelude(routes));
    },
  ),
);

/** Our sign-in page for the app's HTTP authentication (`http-auth-page.ts`), from the worker itself. */
router.registerRoute(
  new Route(
    ({ url }) => url.origin === self.location.origin && url.pathname === SIGN_IN_PATH,
    async ({ url }) => signInPage(url.searchParams),
  ),
);

router.registerRoute(precacheRoute());

// Workbox's method type lists six methods, but a route matches any method string it is given.
for (const method of TUNNEL_METHODS as readonly string[] as HTTPMethod[]) {
  router.registerRoute(
    new Route(
      (ctx) => matchTunnelled(ctx, state),
      (ctx) => handleTunnelled(ctx, state),
      method,
    ),
  );
}

self.addEventListener('fetch', (event) => {
  startPhases.mark('fetch');
  const handled = router.handleRequest({ event, request: event.request });
  if (handled) {
    event.respondWith(handled);
    return;
  }
  // A method no route covers, meant for the dark app: decide() refuses it (fail closed), so it
  // never leaves unheard.
  const url = new URL(event.request.url);
  if (matchTunnelled({ url, request: event.request }, state)) {
    event.respondWith(handleTunnelled({ url, request: event.request, event }, state));
  }
});

let cookieAnswers: BroadcastChannel | undefined;

/** What our pages may call (shared/page-worker/api.ts). */
const api = workerApi({
  claim: () => self.clients.claim(),
  reset: async () => {
    forgetCachedKeys();
    await state.reset();
  },
  signOut: async () => {
    forgetCachedKeys();
    await state.reset({ signedOut: true });
  },
  status: (op) => statusCall(op, state),
  isAppAddress: (url) => {
    const match = matchTunnelled({ url, request: new Request(url) }, state);
    return !!match && !match.pending;
  },
  signIn: (url, realm, user, password) => {
    state.httpAuth.signIn(url, realm, user, password);
  },
});

/**
 * Messages from pages (shared/page-worker/): calls of our pages, the shim's WebSocket bridges,
 * keep-alives and document.cookie requests. Anything else is ignored.
 */
self.addEventListener('message', (event) => {
  const data: unknown = event.data;
  const port = event.ports[0];
  // Receiving the event is what keeps the worker alive while sockets are open.
  if (isKeepAliveMessage(data)) return;
  if (isRpcConnectMessage(data) && port) {
    event.waitUntil(exposeWorkerApi(api, port, data.version));
  } else if (isWebSocketConnectMessage(data) && port) {
    const counted = countWebSocket((url, protocols) =>
      openTunnelledWebSocket(state, url, protocols),
    );
    const pageAlive = pageAliveOf(self.clients, event.source);
    event.waitUntil(bridgeWebSocket(port, counted.open, { pageAlive }).finally(counted.closed));
  } else if (isKeepAliveFetchMessage(data)) {
    // The event lasts until the request is carried, even when the page unloads right after.
    event.waitUntil(
      answerKeepalive(data, port, self.location.origin, {
        tunnels: (url) => !!matchTunnelled({ url, request: new Request(url) }, state),
        carry: (url, request) => handleTunnelled({ url, request, event }, state),
      }),
    );
  } else if (isCookieBridgeRequest(data)) {
    event.waitUntil(
      (async () => {
        const update = await handleCookieBridgeRequest(
          data,
          await state.cookieJar(),
          self.location.origin,
        );
        cookieAnswers ??= new BroadcastChannel(COOKIE_CHANNEL);
        cookieAnswers.postMessage(update);
      })().catch((err: unknown) => console.warn('[zt] cookie bridge', err)),
    );
  }
});
