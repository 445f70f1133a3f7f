/// <reference lib="webworker" />
import { clientsClaim } from 'workbox-core';
import { registerRoute } from 'workbox-routing';
import { BUILD_VERSION, RESERVED_PREFIX, SW_HEADER } from '../shared/version.ts';

declare const self: ServiceWorkerGlobalScope;

// A new build takes over at once; pages wait for `controllerchange`, never a timer.
self.addEventListener('install', () => {
  void self.skipWaiting();
});
clientsClaim();

/** Answered by the service worker itself: proves it controls the page and reports its build. */
registerRoute(
  ({ url }) =>
    url.origin === self.location.origin && url.pathname === `${RESERVED_PREFIX}sw-status`,
  async () =>
    new Response(JSON.stringify({ version: BUILD_VERSION, scope: self.registration.scope }), {
      headers: {
        'content-type': 'application/json',
        'cache-control': 'no-store',
        [SW_HEADER]: BUILD_VERSION,
      },
    }),
);
