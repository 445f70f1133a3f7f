/**
 * Every name the pages and the service worker share: message types, BroadcastChannel names, the
 * request header of upload progress and the page globals the worker puts in front of the shim.
 * Message types and channel names all read `zt/<noun>-<verb>` (or `zt/<noun>` for a channel).
 * Nothing here imports anything: the page shim, which runs in every app page, takes these names
 * without pulling in the RPC library.
 */

/**
 * Version of the call protocol (`WorkerApi`), sent with every RPC connect. A page from another build
 * than the worker (the worker was replaced while the page stayed open) is told to reload instead of
 * calling methods that may mean something else now.
 */
export const PROTOCOL_VERSION = 1;

/** `data.type` of the message (with one MessagePort) that opens one call of `WorkerApi`. */
export const RPC_CONNECT = 'zt/rpc-connect';
/** `data.type` of the message (with one MessagePort) that hands one WebSocket's port to the worker. */
export const WEBSOCKET_CONNECT = 'zt/websocket-connect';
/** `data.type` of the periodic message that keeps the worker alive while sockets are open. */
export const WORKER_KEEPALIVE = 'zt/worker-keepalive';
/** `data.type` of a `document.cookie` write the shim sends the worker (fire and forget). */
export const COOKIE_SET = 'zt/cookie-set';
/** `data.type` of the shim's request for its page's `document.cookie` (answered on `COOKIE_CHANNEL`). */
export const COOKIE_GET = 'zt/cookie-get';
/** `data.type` of the worker's broadcast of a page's `document.cookie`. */
export const COOKIE_UPDATE = 'zt/cookie-update';
/**
 * `data.type` of a `fetch(…, { keepalive: true })` the shim hands the worker (with one MessagePort
 * for the answer): some browsers send keepalive fetches past the service worker.
 */
export const KEEPALIVE_FETCH = 'zt/keepalive-fetch';

/** Every message type above (unique: the tests check it). */
export const MESSAGE_TYPES = [
  RPC_CONNECT,
  WEBSOCKET_CONNECT,
  WORKER_KEEPALIVE,
  COOKIE_SET,
  COOKIE_GET,
  COOKIE_UPDATE,
  KEEPALIVE_FETCH,
] as const;

/** BroadcastChannel the worker announces `document.cookie` values on (`CookieUpdate`). */
export const COOKIE_CHANNEL = 'zt/document-cookie';
/** BroadcastChannel the worker reports upload progress on (`UploadProgressMessage`). */
export const UPLOAD_PROGRESS_CHANNEL = 'zt/upload-progress';
/**
 * BroadcastChannel the worker asks on, while a body it answers still streams, for a
 * `WORKER_KEEPALIVE` message from any app page (a broadcast: the app's own listeners of
 * `navigator.serviceWorker` messages never see it).
 */
export const KEEPALIVE_CHANNEL = 'zt/keepalive';

export const CHANNEL_NAMES = [COOKIE_CHANNEL, UPLOAD_PROGRESS_CHANNEL, KEEPALIVE_CHANNEL] as const;

/**
 * Request header carrying the page's upload id (same-origin requests only: no CORS preflight). The
 * worker removes it before the request goes into the tunnel.
 */
export const UPLOAD_ID_HEADER = 'x-zt-upload-id';

/** Page global with the page's initial `document.cookie`, set in front of `/__zt/shim.js`. */
export const COOKIE_SNAPSHOT_GLOBAL = '__ztDocumentCookie';
/** Page global with the routing context (`RouteContext` or null), set in front of `/__zt/shim.js`. */
export const ROUTES_GLOBAL = '__ztRoutes';

export const PAGE_GLOBALS = [COOKIE_SNAPSHOT_GLOBAL, ROUTES_GLOBAL] as const;

/**
 * Path the worker answers at once with `204` and its build in `x-zt-sw` (nothing else, no tunnel
 * wait): lets a page tell whether a request reached the worker at all (the shim's synchronous-XHR
 * probe). The static site never sets that header.
 */
export const WORKER_PING_PATH = '/__zt/sw-ping';
