/**
 * The page shim: injected by the service worker as the first element of the app's <head>, so it runs
 * before any app script. It must never throw into the app.
 */

import type { CookieBridgeRequest } from '../shared/page-worker/messages.ts';
import {
  COOKIE_SNAPSHOT_GLOBAL,
  KEEPALIVE_CHANNEL,
  ROUTES_GLOBAL,
  WEBSOCKET_CONNECT,
  WORKER_KEEPALIVE,
} from '../shared/page-worker/names.ts';
import { decideRoute, type RouteContext } from '../shared/routing/route-decision.ts';
import { installChildFrames } from './shim/child-frames.ts';
import { installDocumentCookie } from './shim/document-cookie.ts';
import { installDownloadLinks } from './shim/download-links.ts';
import { installKeepaliveFetch } from './shim/keepalive-fetch.ts';
import { guardServiceWorkerRegister } from './shim/register-guard.ts';
import { installSyncXhr } from './shim/sync-xhr.ts';
import { showUpdateNotice, watchForUpdate } from './shim/update-notice.ts';
import { installWebSocket } from './shim/websocket.ts';
import { installXhrUploadProgress } from './shim/xhr-upload.ts';

const controller = () => navigator.serviceWorker?.controller ?? null;
const sameOrigin = (u: URL) => u.host === location.host;

/**
 * Sockets go through the worker when they are for the app's host or a dark host of the routing
 * context the worker put in front of us. Without a context (the controller could not be asked)
 * every socket goes to the worker, which opens only what it can prove dark: fail closed.
 */
function shouldTunnel(u: URL): boolean {
  if (sameOrigin(u)) return true;
  const routes = (window as unknown as Record<string, unknown>)[ROUTES_GLOBAL] as
    | RouteContext
    | null
    | undefined;
  if (!routes) return true;
  return decideRoute(new URL(u.href.replace(/^ws/, 'http')), routes).kind === 'tunnel';
}

function attempt(what: string, install: () => void): void {
  try {
    install();
  } catch (e) {
    console.error(`[zt] could not install the ${what} bridge`, e);
  }
}

if (!('__ztShim' in window)) {
  Object.defineProperty(window, '__ztShim', { value: true });
  if ('serviceWorker' in navigator) guardServiceWorkerRegister(navigator.serviceWorker);

  // Sockets to the app's host and dark hosts go through the service worker (the one OpenZiti context).
  attempt('WebSocket', () =>
    installWebSocket(window, {
      shouldTunnel,
      connect: () => {
        const sw = controller();
        if (!sw) throw new Error('no service worker controls this page');
        const channel = new MessageChannel();
        sw.postMessage({ type: WEBSOCKET_CONNECT }, [channel.port2]);
        return channel.port1;
      },
      keepAlive: () => controller()?.postMessage({ type: WORKER_KEEPALIVE }),
    }),
  );

  // While the worker streams a body it asks for a message now and then: Firefox stops a worker
  // 60 s after its last event even with the body still streaming (sw/tunnel/delivery.ts).
  attempt('worker keep-alive', () => {
    new BroadcastChannel(KEEPALIVE_CHANNEL).onmessage = () =>
      controller()?.postMessage({ type: WORKER_KEEPALIVE });
  });

  attempt('upload progress', () =>
    installXhrUploadProgress(window, { shouldTag: (u) => u.origin === location.origin }),
  );
  attempt('synchronous XHR', () => installSyncXhr(window, { shouldTunnel }));
  attempt('keepalive fetch', () => installKeepaliveFetch(window, { shouldTunnel, controller }));
  attempt('download link', () => installDownloadLinks(window, { shouldTunnel }));
  attempt('child frame', () => installChildFrames(window));

  attempt('update notice', () => {
    if (!navigator.serviceWorker) return;
    watchForUpdate(navigator.serviceWorker, () =>
      showUpdateNotice(document, () => location.reload()),
    );
  });

  // Present only when the service worker has no cookieStore and put the snapshot in front of us.
  const snapshot = (window as unknown as Record<string, unknown>)[COOKIE_SNAPSHOT_GLOBAL];
  if (typeof snapshot === 'string') {
    attempt('document.cookie', () =>
      installDocumentCookie(window, {
        initial: snapshot,
        send: (req: CookieBridgeRequest) => controller()?.postMessage(req),
      }),
    );
  }
}
