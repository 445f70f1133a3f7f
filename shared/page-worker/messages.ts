/**
 * The plain messages between pages and the service worker, where a stream or a fire-and-forget
 * message fits better than a call: the WebSocket bridge (`websocket-port.ts` for what travels on a
 * socket's port), the keep-alive, `document.cookie` and upload progress. Types and guards; no logic
 * of either side. The worker checks every message with a guard: any script of the app's origin can
 * post to it.
 */
import type { RouteContext } from '../routing/route-decision.ts';
import {
  COOKIE_GET,
  COOKIE_SET,
  COOKIE_SNAPSHOT_GLOBAL,
  COOKIE_UPDATE,
  KEEPALIVE_FETCH,
  ROUTES_GLOBAL,
  RPC_CONNECT,
  WEBSOCKET_CONNECT,
  WORKER_KEEPALIVE,
} from './names.ts';

const typeOf = (data: unknown): unknown =>
  typeof data === 'object' && data !== null ? (data as { type?: unknown }).type : undefined;

/** Opens one call of `WorkerApi` on the MessagePort sent along (see rpc.ts). */
export interface RpcConnectMessage {
  type: typeof RPC_CONNECT;
  version: number;
}

export function isRpcConnectMessage(data: unknown): data is RpcConnectMessage {
  return (
    typeOf(data) === RPC_CONNECT && typeof (data as { version?: unknown }).version === 'number'
  );
}

/** Hands one WebSocket's MessagePort (sent along) to the worker. */
export interface WebSocketConnectMessage {
  type: typeof WEBSOCKET_CONNECT;
}

export function isWebSocketConnectMessage(data: unknown): data is WebSocketConnectMessage {
  return typeOf(data) === WEBSOCKET_CONNECT;
}

/** Sent periodically while sockets are open: receiving it is what keeps the worker running. */
export interface KeepAliveMessage {
  type: typeof WORKER_KEEPALIVE;
}

export function isKeepAliveMessage(data: unknown): data is KeepAliveMessage {
  return typeOf(data) === WORKER_KEEPALIVE;
}

/**
 * `document.cookie` for browsers whose service worker has no `cookieStore` (Firefox): the shim
 * posts writes (`zt/cookie-set`) and asks for its page's value (`zt/cookie-get`); the worker answers
 * on `COOKIE_CHANNEL` with a `CookieUpdate`.
 */
export type CookieBridgeRequest =
  | { type: typeof COOKIE_SET; url: string; cookie: string }
  | { type: typeof COOKIE_GET; url: string };

export interface CookieUpdate {
  type: typeof COOKIE_UPDATE;
  url: string;
  cookie: string;
  /** When the first of these cookies expires (ms since the epoch); absent when none does. */
  expires?: number;
}

export function isCookieBridgeRequest(data: unknown): data is CookieBridgeRequest {
  const type = typeOf(data);
  const d = data as Record<string, unknown>;
  if (typeof d?.url !== 'string') return false;
  return type === COOKIE_GET || (type === COOKIE_SET && typeof d.cookie === 'string');
}

export function isCookieUpdate(data: unknown): data is CookieUpdate {
  const d = data as Record<string, unknown>;
  return (
    typeOf(data) === COOKIE_UPDATE &&
    typeof d.url === 'string' &&
    typeof d.cookie === 'string' &&
    (d.expires === undefined || (typeof d.expires === 'number' && Number.isFinite(d.expires)))
  );
}

/** The Fetch standard's cap on a keepalive request's body (bytes); a larger one is a TypeError. */
export const KEEPALIVE_BODY_LIMIT = 64 * 1024;

/**
 * A `fetch(…, { keepalive: true })` to a tunnelled URL, handed to the worker by the shim (some
 * browsers send keepalive fetches past the service worker). The answer comes on the MessagePort sent
 * along, as a `KeepAliveFetchAnswer`.
 */
export interface KeepAliveFetchMessage {
  type: typeof KEEPALIVE_FETCH;
  url: string;
  method: string;
  headers: [string, string][];
  /** At most `KEEPALIVE_BODY_LIMIT` bytes; null for none. */
  body: ArrayBuffer | null;
  credentials: RequestCredentials;
  mode: RequestMode;
  redirect: RequestRedirect;
  /** The page's URL (the request's referrer), or '' for none. */
  referrer: string;
}

export type KeepAliveFetchAnswer =
  | {
      ok: true;
      status: number;
      statusText: string;
      headers: [string, string][];
      body: ArrayBuffer | null;
    }
  | { ok: false; error: string };

const CREDENTIALS: readonly unknown[] = ['omit', 'same-origin', 'include'];
const MODES: readonly unknown[] = ['cors', 'no-cors', 'same-origin'];
const REDIRECTS: readonly unknown[] = ['follow', 'error', 'manual'];

const isHeaderList = (h: unknown): h is [string, string][] =>
  Array.isArray(h) &&
  h.every(
    (p) =>
      Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string',
  );

export function isKeepAliveFetchMessage(data: unknown): data is KeepAliveFetchMessage {
  if (typeOf(data) !== KEEPALIVE_FETCH) return false;
  const d = data as Record<string, unknown>;
  return (
    typeof d.url === 'string' &&
    typeof d.method === 'string' &&
    isHeaderList(d.headers) &&
    (d.body === null ||
      (d.body instanceof ArrayBuffer && d.body.byteLength <= KEEPALIVE_BODY_LIMIT)) &&
    CREDENTIALS.includes(d.credentials) &&
    MODES.includes(d.mode) &&
    REDIRECTS.includes(d.redirect) &&
    typeof d.referrer === 'string'
  );
}

export function isKeepAliveFetchAnswer(data: unknown): data is KeepAliveFetchAnswer {
  if (typeof data !== 'object' || data === null) return false;
  const d = data as Record<string, unknown>;
  if (d.ok === false) return typeof d.error === 'string';
  return (
    d.ok === true &&
    typeof d.status === 'number' &&
    typeof d.statusText === 'string' &&
    isHeaderList(d.headers) &&
    (d.body === null || d.body instanceof ArrayBuffer)
  );
}

/** An upload's progress, on `UPLOAD_PROGRESS_CHANNEL`. */
export interface UploadProgressMessage {
  /** The page's id from `UPLOAD_ID_HEADER`. */
  id: string;
  loaded: number;
  /** Body size when known, else -1 (a streamed body: the page may know it). */
  total: number;
  /** The body was sent completely (true) or the upload ended early (false with `failed`). */
  done: boolean;
  failed?: boolean;
}

/** What an upload id looks like (the page makes a UUID); the worker carries no other value. */
export function isUploadId(id: string): boolean {
  return /^[A-Za-z0-9-]{1,64}$/.test(id);
}

export function isUploadProgressMessage(data: unknown): data is UploadProgressMessage {
  if (typeof data !== 'object' || data === null) return false;
  const d = data as Record<string, unknown>;
  return (
    typeof d.id === 'string' &&
    typeof d.loaded === 'number' &&
    typeof d.total === 'number' &&
    typeof d.done === 'boolean'
  );
}

/** The script line that hands the shim its page's initial `document.cookie`. */
export function cookieSnapshotPrelude(cookie: string): string {
  return `self.${COOKIE_SNAPSHOT_GLOBAL}=${JSON.stringify(cookie)};\n`;
}

/** The script line that hands the shim the routing context (`null`: not known, carry nothing natively). */
export function routesPrelude(routes: RouteContext | undefined): string {
  return `self.${ROUTES_GLOBAL}=${JSON.stringify(routes ?? null)};\n`;
}
