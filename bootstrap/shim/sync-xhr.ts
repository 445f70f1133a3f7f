/**
 * Synchronous `XMLHttpRequest` (`xhr.open(method, url, false)`) where the browser cannot carry it
 * through the service worker.
 *
 * Chromium never hands a synchronous XHR to a service worker (crbug.com/602051): it goes to the
 * network, i.e. to the static site that serves the bootstrap page (a 404 for an app URL, and for a
 * dark sibling host an attempt on the open network). Firefox carries it through the worker like any
 * other request. So before the first synchronous XHR to a URL the worker would tunnel, we ask once
 * whether this browser carries synchronous XHR at all: a synchronous GET of `/__zt/sw-ping`, which
 * the worker answers itself with the `x-zt-sw` header (`SW_HEADER`) and the static site without it.
 * The probe sends nothing of the app (our own path, on the site it would reach anyway), costs one
 * round trip only on the first synchronous XHR of a page (pages that use none never probe), and is
 * the truth for this very browser and page rather than a guess from the user agent. Where the
 * answer comes without the header (or the probe fails), a synchronous XHR to a tunnelled URL fails
 * closed: `send()` throws a `NetworkError` DOMException, as a synchronous XHR that fails on the
 * network does, and the console says why, once per URL.
 *
 * Nothing can carry it in Chromium, as far as we found:
 * - the service worker sees no event for it, and no page API can wait synchronously for the worker
 *   (postMessage, BroadcastChannel, IndexedDB, Cache Storage are asynchronous; `Atomics.wait` is not
 *   allowed on the main thread);
 * - a spin-wait on a `SharedArrayBuffer` filled by a dedicated worker whose fetch the service worker
 *   carries would work, but `SharedArrayBuffer` exists only in cross-origin isolated pages
 *   (COOP + COEP on every app document), which would break the app's cross-origin embeds;
 * - a synchronous XHR to a `blob:` or `data:` URL is answered synchronously, but only with content
 *   that already existed before the call: the answer of an arbitrary request cannot be known ahead;
 * - the static site could relay it, but only by leaving the zero-trust network, which is the point.
 */
import { WORKER_PING_PATH } from '../../shared/page-worker/names.ts';
import { RESERVED_PREFIX, SW_HEADER } from '../../shared/version.ts';

/** Answered at once by the service worker itself (sw/sw.ts), with `SW_HEADER`; never by the app. */
export const SYNC_XHR_PROBE_PATH = WORKER_PING_PATH;

export interface InstallSyncXhrOptions {
  /** Whether the service worker carries a request to this URL over the tunnel. */
  shouldTunnel(url: URL): boolean;
  /**
   * Whether this browser hands synchronous XHR to the service worker; asked at most once, on the
   * first synchronous XHR to a tunnelled URL. Default: the `/__zt/sw-ping` probe above.
   */
  carriesSyncXhr?: () => boolean;
  /** Where the console error goes (tests). */
  report?: (message: string) => void;
}

type Win = Window & typeof globalThis;

type Open = (this: XMLHttpRequest, ...args: unknown[]) => void;
type Send = (this: XMLHttpRequest, body?: Document | XMLHttpRequestBodyInit | null) => void;

/** A synchronous GET of the probe path with the given (unpatched) open/send. */
export function probeSyncXhr(win: Win, open: Open, send: Send): boolean {
  try {
    const xhr = new win.XMLHttpRequest();
    open.call(xhr, 'GET', new URL(SYNC_XHR_PROBE_PATH, win.location.href).href, false);
    send.call(xhr);
    return !!xhr.getResponseHeader(SW_HEADER);
  } catch {
    return false;
  }
}

export function installSyncXhr(win: Win, options: InstallSyncXhrOptions): void {
  const proto = win.XMLHttpRequest.prototype;
  const nativeOpen = proto.open as Open;
  const nativeSend = proto.send as Send;
  const report = options.report ?? ((m: string) => console.error(m));
  const sync = new WeakMap<XMLHttpRequest, URL>();
  const reported = new Set<string>();
  let carries: boolean | undefined;
  const carriesSyncXhr = () => {
    carries ??= options.carriesSyncXhr
      ? options.carriesSyncXhr()
      : probeSyncXhr(win, nativeOpen, nativeSend);
    return carries;
  };

  proto.open = function (this: XMLHttpRequest, ...args: unknown[]) {
    // open(method, url) is asynchronous; with three or more arguments `async` is a boolean.
    const isSync = args.length >= 3 && !args[2];
    let url: URL | null = null;
    try {
      url = new URL(String(args[1]), win.document.baseURI);
    } catch {
      // the native open throws the right error
    }
    nativeOpen.apply(this, args);
    if (isSync && url && tunnelled(url)) sync.set(this, url);
    else sync.delete(this);
  } as typeof proto.open;

  const tunnelled = (url: URL) => {
    if (url.origin === win.location.origin) {
      if (url.pathname === '/sw.js' || url.pathname.startsWith(RESERVED_PREFIX)) return false;
    }
    try {
      return options.shouldTunnel(url);
    } catch {
      return true; // cannot tell: treat it as the app's
    }
  };

  proto.send = function (this: XMLHttpRequest, body?: Document | XMLHttpRequestBodyInit | null) {
    const url = sync.get(this);
    if (url && this.readyState === 1 && !carriesSyncXhr()) {
      if (!reported.has(url.href)) {
        reported.add(url.href);
        report(
          `[zt] synchronous XMLHttpRequest to ${url.href} cannot go through the zero-trust tunnel in this browser (it does not hand synchronous requests to the service worker); it was not sent. Use an asynchronous request.`,
        );
      }
      throw new win.DOMException(
        `Failed to execute 'send' on 'XMLHttpRequest': Failed to load '${url.href}'.`,
        'NetworkError',
      );
    }
    return nativeSend.call(this, body);
  };
}
