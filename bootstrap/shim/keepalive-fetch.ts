/**
 * `fetch(url, { keepalive: true })` to a URL the worker tunnels, carried by the worker in every
 * browser.
 *
 * Firefox sends a keepalive fetch past the service worker, straight to the network (the static site
 * that serves the bootstrap page, or the open network for a dark sibling host); Chromium hands it to
 * the worker. So the shim hands every such request to the worker itself, the same way in every
 * browser: a `zt/keepalive-fetch` message with the request (its body read as bytes, at most the
 * 64 KiB the Fetch standard allows a keepalive body) and a MessagePort for the answer. The worker
 * carries it over the tunnel like any request and keeps itself alive until it is done, so the
 * request goes out even when the page unloads right after (`pagehide`); the page's promise resolves
 * with the answer if the page is still there. Without a controlling worker the fetch fails with a
 * TypeError (a network error): nothing meant for the app goes out in clear. Keepalive fetches to
 * URLs the worker does not tunnel stay the browser's own.
 *
 * The message is posted synchronously where the body allows (no body, a string, bytes,
 * URLSearchParams): a page that sends on `pagehide` may be gone before a promise settles. Other
 * bodies (Blob, FormData) are read first.
 */
import {
  isKeepAliveFetchAnswer,
  KEEPALIVE_BODY_LIMIT,
  type KeepAliveFetchMessage,
} from '../../shared/page-worker/messages.ts';
import { KEEPALIVE_FETCH } from '../../shared/page-worker/names.ts';

export interface InstallKeepaliveFetchOptions {
  /** Whether the service worker carries a request to this URL over the tunnel. */
  shouldTunnel(url: URL): boolean;
  /** The worker that controls the page, if any. */
  controller(): Pick<ServiceWorker, 'postMessage'> | null;
}

type Win = Window & typeof globalThis;

/** Whether `fetch(input, init)` asks for keepalive (init overrides the Request's own flag). */
function asksKeepalive(win: Win, input: unknown, init: RequestInit | undefined): boolean {
  if (init && init.keepalive !== undefined) return !!init.keepalive;
  return input instanceof win.Request && input.keepalive;
}

/** The body as bytes now, where that needs no waiting; undefined where it does. */
function bodyNow(body: BodyInit | null | undefined): ArrayBuffer | null | undefined {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return new TextEncoder().encode(body).buffer as ArrayBuffer;
  if (body instanceof URLSearchParams)
    return new TextEncoder().encode(body.toString()).buffer as ArrayBuffer;
  if (body instanceof ArrayBuffer) return body.slice(0);
  if (ArrayBuffer.isView(body)) {
    const copy = new Uint8Array(body.byteLength);
    copy.set(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
    return copy.buffer;
  }
  return undefined;
}

const failed = (message: string) => new TypeError(`Failed to fetch: ${message}`);

export function installKeepaliveFetch(win: Win, options: InstallKeepaliveFetchOptions): void {
  const nativeFetch = win.fetch;

  const viaWorker = (request: Request, body: ArrayBuffer | null): Promise<Response> => {
    if (body && body.byteLength > KEEPALIVE_BODY_LIMIT)
      return Promise.reject(
        new TypeError(`a keepalive request body may be at most ${KEEPALIVE_BODY_LIMIT} bytes`),
      );
    const worker = options.controller();
    if (!worker) {
      console.error(`[zt] ${request.url}: no service worker controls this page; not sent`);
      return Promise.reject(failed('no service worker controls this page'));
    }
    const message: KeepAliveFetchMessage = {
      type: KEEPALIVE_FETCH,
      url: request.url,
      method: request.method,
      headers: [...request.headers],
      body,
      credentials: request.credentials,
      mode: request.mode === 'navigate' ? 'same-origin' : request.mode,
      redirect: request.redirect,
      referrer: request.referrer === 'about:client' ? win.location.href : request.referrer,
    };
    const channel = new win.MessageChannel();
    const answer = new Promise<Response>((resolve, reject) => {
      const signal = request.signal;
      const onAbort = () => {
        channel.port1.close();
        reject(signal.reason ?? new win.DOMException('The operation was aborted.', 'AbortError'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      channel.port1.onmessage = (event: MessageEvent) => {
        signal.removeEventListener('abort', onAbort);
        channel.port1.close();
        const data: unknown = event.data;
        if (!isKeepAliveFetchAnswer(data)) return reject(failed('no answer from the worker'));
        if (!data.ok) return reject(failed(data.error));
        try {
          const nullBody = [101, 103, 204, 205, 304].includes(data.status);
          resolve(
            new win.Response(nullBody ? null : data.body, {
              status: data.status,
              statusText: data.statusText,
              headers: data.headers,
            }),
          );
        } catch (err) {
          reject(failed(String(err)));
        }
      };
    });
    worker.postMessage(message, body ? [channel.port2, body] : [channel.port2]);
    return answer;
  };

  win.fetch = function fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    if (!asksKeepalive(win, input, init)) return nativeFetch.call(win, input, init);
    let request: Request;
    let url: URL;
    try {
      url = new URL(input instanceof win.Request ? input.url : String(input), win.document.baseURI);
      if (!options.shouldTunnel(url)) return nativeFetch.call(win, input, init);
      // Throws what the browser's fetch would (a forbidden method, a stream body, …).
      request = new win.Request(input instanceof win.Request ? input : url.href, init);
    } catch (err) {
      return Promise.reject(err);
    }
    if (request.signal.aborted)
      return Promise.reject(
        request.signal.reason ?? new win.DOMException('The operation was aborted.', 'AbortError'),
      );
    const now = init && 'body' in init ? bodyNow(init.body) : request.body ? undefined : null;
    if (now !== undefined) return viaWorker(request, now);
    return request.arrayBuffer().then((bytes) => viaWorker(request, bytes));
  } as typeof win.fetch;
}
