/**
 * The test service worker for e2e/websocket.spec.ts. It wires the real bridge
 * (sw/websocket-bridge.ts) and RFC 6455 client to a transport without OpenZiti: `open`
 * reaches the echo server through the fixture's raw-TCP relay (`/tcp`: a WebSocket whose binary
 * messages are slices of one TCP connection), so the HTTP upgrade and every frame are ours.
 * It also answers `/upload` (reading the body as a tunnel would, reporting progress).
 */
import { HttpConnection } from '../../shared/http/connection.ts';
import {
  isCookieBridgeRequest,
  isKeepAliveMessage,
  isWebSocketConnectMessage,
  routesPrelude,
} from '../../shared/page-worker/messages.ts';
import { COOKIE_CHANNEL } from '../../shared/page-worker/names.ts';
import { webSocketDuplex } from '../../shared/streams/websocket.ts';
import { connectWebSocket } from '../../shared/websocket/connect.ts';
import {
  announceCookies,
  handleCookieBridgeRequest,
  withCookieSnapshot,
} from '../../sw/cookie-bridge.ts';
import { CookieJar } from '../../sw/cookie-jar.ts';
import { trackUpload } from '../../sw/upload-progress.ts';
import { bridgeWebSocket, type OpenWebSocket, pageAliveOf } from '../../sw/websocket-bridge.ts';

// Type-checked with the Node/DOM config (tsconfig.node.json), so the worker types are spelled out.
interface ExtendableEventLike extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface SwMessageEvent extends ExtendableEventLike {
  data: unknown;
  ports: readonly MessagePort[];
  source: { postMessage(m: unknown): void } | null;
}
interface SwFetchEvent extends ExtendableEventLike {
  request: Request;
  respondWith(r: Promise<Response>): void;
}
const sw = self as unknown as {
  location: Location;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void>; get(id: string): Promise<unknown> };
  addEventListener(type: string, fn: (e: never) => void): void;
};

/**
 * `zt-test-die` (Firefox, which cannot be told to stop a worker): every bridge port goes silent, as
 * if the worker were gone, until `zt-test-revive`.
 */
let dead = false;
const bridgePorts = new Set<MessagePort>();

const open: OpenWebSocket = async (url, protocols) => {
  const relay = new WebSocket(`${sw.location.origin.replace(/^http/, 'ws')}/tcp`);
  const duplex = await webSocketDuplex(relay);
  const http = new HttpConnection({ ...duplex, close: () => relay.close() });
  return connectWebSocket((req) => http.upgrade(req), {
    url,
    protocols,
    origin: sw.location.origin,
  });
};

/** The app's cookies as the SW's jar would hold them (for the document.cookie bridge test). */
const memory = new Map<string, unknown>();
const jar = CookieJar.open({
  get: async (k) => memory.get(k),
  set: async (k, v) => {
    memory.set(k, v);
  },
}).then(async (j) => {
  await j.setFromResponse(`${sw.location.origin}/`, [
    'MMAUTHTOKEN=secret; Path=/; HttpOnly',
    'MMUSERID=u1; Path=/',
    'MMCSRF=c1; Path=/',
  ]);
  return j;
});
const cookieUpdates = new BroadcastChannel(COOKIE_CHANNEL);

sw.addEventListener('install', () => {
  void sw.skipWaiting();
});
sw.addEventListener('activate', (event: ExtendableEventLike) => {
  event.waitUntil(sw.clients.claim());
});

sw.addEventListener('message', (event: SwMessageEvent) => {
  const data = event.data as { type?: string } | null;
  if (isWebSocketConnectMessage(data) && event.ports[0]) {
    const port = event.ports[0];
    if (dead) return;
    bridgePorts.add(port);
    const pageAlive = pageAliveOf(sw.clients, event.source);
    event.waitUntil(
      bridgeWebSocket(port, open, { pageAlive }).finally(() => bridgePorts.delete(port)),
    );
  } else if (isCookieBridgeRequest(data)) {
    event.waitUntil(
      jar
        .then((j) => handleCookieBridgeRequest(data, j, sw.location.origin))
        .then((update) => cookieUpdates.postMessage(update)),
    );
  } else if (isKeepAliveMessage(data)) {
    // Receiving the event is what keeps the worker alive; nothing else to do.
  } else if (data?.type === 'zt-test-die') {
    dead = true;
    for (const port of bridgePorts) {
      port.onmessage = null;
      port.close();
    }
    bridgePorts.clear();
    event.source?.postMessage({ type: 'zt-test-dead' });
  } else if (data?.type === 'zt-test-revive') {
    dead = false;
    event.source?.postMessage({ type: 'zt-test-revived' });
  }
});

sw.addEventListener('fetch', (event: SwFetchEvent) => {
  const url = new URL(event.request.url);
  const referrer = event.request.referrer;
  if (url.pathname === '/__zt/shim.js') {
    // As the product's worker serves the shim: the page's cookies and the routing context (no dark
    // host besides this origin) in front.
    const routes = routesPrelude({ publicOrigin: url.origin, appService: 'app', intercepts: [] });
    event.respondWith(
      referrer.endsWith('/cookie.html')
        ? Promise.all([fetch(event.request), jar]).then(([r, j]) =>
            withCookieSnapshot(r, j, referrer, routes),
          )
        : fetch(event.request).then(
            async (r) =>
              new Response(routes + (await r.text()), {
                headers: { 'content-type': 'text/javascript; charset=utf-8' },
              }),
          ),
    );
  } else if (url.pathname === '/__zt-test/jar') {
    event.respondWith(jar.then(async (j) => new Response(await j.cookieHeader(`${url.origin}/`))));
  } else if (url.pathname === '/__zt-test/set-cookie') {
    // A tunnelled response that sets a cookie: the jar changes and the pages hear of it.
    event.respondWith(
      jar.then(async (j) => {
        await j.setFromResponse(`${url.origin}/`, ['fresh=1; Path=/']);
        await announceCookies(j, referrer, (m) => cookieUpdates.postMessage(m));
        return new Response('ok');
      }),
    );
  } else if (url.pathname === '/upload' && event.request.method === 'POST') {
    event.respondWith(answerUpload(event.request));
  }
});

/** Reads the upload in 1 MiB steps, as the tunnel sends it, reporting progress. */
async function answerUpload(request: Request): Promise<Response> {
  const total = Number(request.headers.get('content-length') ?? -1);
  const upload = trackUpload(request.headers, total >= 0 ? { total } : {});
  let sent = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      sent += r.value.byteLength;
      upload?.onUploadProgress(sent);
      await new Promise((res) => setTimeout(res, 1));
    }
  } else {
    // Firefox has no Request.body: take the Blob and send it in slices.
    const blob = await request.blob();
    const step = 1024 * 1024;
    for (let off = 0; off < blob.size; off += step) {
      const chunk = await blob.slice(off, off + step).arrayBuffer();
      sent += chunk.byteLength;
      upload?.onUploadProgress(sent);
      await new Promise((res) => setTimeout(res, 5));
    }
  }
  upload?.finish();
  return new Response(JSON.stringify({ received: sent }), {
    headers: { 'content-type': 'application/json' },
  });
}
