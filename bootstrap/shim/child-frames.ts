/**
 * Same-origin child browsing contexts the worker never served: `about:blank` and `srcdoc` iframes
 * (and `about:blank` popups from `window.open`). Their documents never pass through the service
 * worker, so the page shim is not in them, and what the browser does with their requests differs:
 *
 * | browser | about:blank                          | srcdoc                               |
 * |---------|--------------------------------------|--------------------------------------|
 * | Chromium| not controlled: fetch, XHR, images,  | controlled: fetch, XHR, images go    |
 * |         | scripts go to the network            | through the worker                   |
 * | Firefox | controlled                           | controlled                           |
 *
 * and in both, WebSocket, `document.cookie` and synchronous XHR are the browser's own (the shim's
 * replacements live in the parent's realm only).
 *
 * So, from the parent's shim, each such child window gets, before the app can use it:
 * - `fetch`, `XMLHttpRequest`, `WebSocket`, `EventSource`, `Worker`, `SharedWorker` and
 *   `navigator.sendBeacon` that delegate to the parent's, which the worker controls and the shim
 *   patched (relative URLs resolved against the child's base URL); `document.cookie` is the
 *   parent's. Objects made this way belong to the parent's realm (`instanceof` the child's
 *   constructor is false).
 * - when the child's document is not controlled (Chromium's about:blank), a Content-Security-Policy
 *   `<meta>` that lets nothing load from the network (inline code, `data:` and `blob:` stay
 *   allowed; frames of the app's origin too, since navigations go through the worker): an
 *   `<img src>`, `<script src>` or stylesheet would otherwise go to the static site in clear, or to
 *   the open network for a dark sibling host. The browser blocks it; the console says why, once per
 *   URL. A policy added by `<meta>` lasts for the document's lifetime, `document.open()` included.
 *
 * The child is adopted when the app first reaches it: `iframe.contentWindow` / `contentDocument`,
 * `window.open()`'s result, an iframe inserted by `appendChild`, `insertBefore`, `append` and the
 * like (in the same call), any other inserted iframe (MutationObserver, before any task of the
 * child's document runs) and each iframe `load`. The window of a frame's initial about:blank document is
 * reused by the document that replaces it (srcdoc, or an app page of the same origin), so the
 * globals set early are in place when the srcdoc's own scripts run; a window that later gets the
 * real shim (an app page the worker served) has `__ztShim`, and then every replacement here hands
 * over to that window's own (the shim then patches them as in any app page).
 *
 * Not covered: a frame inserted some other way (`innerHTML`, inside an inserted subtree) and reached
 * only through `window.frames[i]` / `window[i]` in the same task (before the MutationObserver runs);
 * an uncontrolled blank frame's resources from the app's origin are blocked rather than carried.
 */

export interface InstallChildFramesOptions {
  /** Where the console error goes (tests). */
  report?: (message: string) => void;
}

type Win = Window & typeof globalThis;

/** The marker of a window the real page shim runs in (bootstrap/shim.ts). */
const SHIM_MARKER = '__ztShim';

/** Nothing from the network; inline code, data: and blob: stay; frames of the app's origin too. */
export const BLANK_FRAME_CSP =
  "default-src 'unsafe-inline' 'unsafe-eval' 'wasm-unsafe-eval' data: blob:; frame-src 'self' data: blob:";

const CONSTRUCTORS = [
  'XMLHttpRequest',
  'WebSocket',
  'EventSource',
  'Worker',
  'SharedWorker',
] as const;

const adoptedWindows = new WeakSet<object>();
const adoptedDocuments = new WeakSet<object>();
const hookedWindows = new WeakSet<object>();

/** Whether the real shim runs in `child` (an app page the worker served, in a reused window). */
const ownShim = (child: Win) => Object.hasOwn(child, SHIM_MARKER);

/** A string or URL resolved against the child's base; anything else (a Request) as it is. */
function resolveIn(child: Win, input: unknown): unknown {
  if (typeof input === 'string' || input instanceof child.URL || input instanceof URL) {
    try {
      return new URL(String(input), child.document.baseURI).href;
    } catch {
      return input;
    }
  }
  return input;
}

/**
 * Makes `child`'s network globals those of `parent` while `child` has no shim of its own.
 * Exported for tests.
 */
export function delegateGlobals(child: Win, parent: Win): void {
  const define = (target: object, name: string, value: unknown) =>
    Object.defineProperty(target, name, { value, writable: true, configurable: true });
  const g = child as unknown as Record<string, unknown>;
  const p = parent as unknown as Record<string, unknown>;

  const ownFetch = child.fetch;
  if (typeof ownFetch === 'function') {
    define(child, 'fetch', function fetch(input: RequestInfo | URL, init?: RequestInit) {
      if (ownShim(child)) return ownFetch.call(child, input, init);
      return parent.fetch(resolveIn(child, input) as RequestInfo, init);
    });
  }

  for (const name of CONSTRUCTORS) {
    const Own = g[name] as (new (...a: unknown[]) => object) | undefined;
    if (typeof Own !== 'function') continue;
    const Wrapper = function (this: unknown, ...args: unknown[]) {
      if (!new.target) throw new child.TypeError(`Failed to construct '${name}'`);
      if (ownShim(child)) return Reflect.construct(Own, args);
      const From = p[name] as new (...a: unknown[]) => object;
      // XMLHttpRequest takes its URL in open(), resolved against the parent's base, which is
      // the child's too unless the child has a <base>.
      if (name !== 'XMLHttpRequest' && args.length > 0) args[0] = resolveIn(child, args[0]);
      return Reflect.construct(From, args);
    };
    Wrapper.prototype = Own.prototype;
    Object.setPrototypeOf(Wrapper, Own); // constants: XMLHttpRequest.DONE, WebSocket.OPEN, ...
    define(child, name, Wrapper);
  }

  const nav = child.navigator;
  const ownBeacon = nav?.sendBeacon;
  if (typeof ownBeacon === 'function') {
    define(nav, 'sendBeacon', function sendBeacon(url: string | URL, data?: BodyInit | null) {
      if (ownShim(child)) return ownBeacon.call(nav, url, data);
      return parent.navigator.sendBeacon(resolveIn(child, url) as string, data);
    });
  }

  // The app's cookies are the parent's (the worker's jar, or the shim's mirror of it).
  const proto = child.Document?.prototype;
  const nativeCookie = proto && Object.getOwnPropertyDescriptor(proto, 'cookie');
  if (nativeCookie?.get && nativeCookie.set) {
    const { get, set } = nativeCookie;
    Object.defineProperty(proto, 'cookie', {
      configurable: true,
      enumerable: true,
      get(this: Document) {
        return ownShim(child) ? get.call(this) : parent.document.cookie;
      },
      set(this: Document, value: string) {
        if (ownShim(child)) set.call(this, value);
        else parent.document.cookie = value;
      },
    });
  }
}

/**
 * Lets nothing of an uncontrolled child document load from the network, and says so in the
 * console once per blocked URL. Exported for tests.
 */
export function restrictDocument(doc: Document, report: (message: string) => void): void {
  const seen = new Set<string>();
  doc.addEventListener('securitypolicyviolation', (e) => {
    if (e.originalPolicy !== BLANK_FRAME_CSP || seen.has(e.blockedURI)) return;
    seen.add(e.blockedURI);
    report(
      `[zt] ${e.blockedURI} requested from an about:blank frame cannot go through the zero-trust tunnel in this browser (the service worker does not see that frame's requests); it was blocked`,
    );
  });
  const meta = doc.createElement('meta');
  meta.httpEquiv = 'Content-Security-Policy';
  meta.content = BLANK_FRAME_CSP;
  (doc.head ?? doc.documentElement)?.prepend(meta);
}

/** A child window of `parent`, readable (same origin), and not one the worker served. */
function adopt(child: Win | null, parent: Win, report: (m: string) => void): void {
  if (!child || child === parent) return;
  let doc: Document;
  try {
    doc = child.document; // throws for another origin: nothing of ours to do there
    if (!doc) return;
  } catch {
    return;
  }
  if (ownShim(child)) return;
  if (!adoptedWindows.has(child)) {
    adoptedWindows.add(child);
    delegateGlobals(child, parent);
    installChildFrames(child, { report });
  }
  if (!adoptedDocuments.has(doc)) {
    adoptedDocuments.add(doc);
    const controlled = !!child.navigator?.serviceWorker?.controller;
    if (!controlled) restrictDocument(doc, report);
  }
}

/** Adopts the same-origin blank and srcdoc children of `win` (and, through them, theirs). */
export function installChildFrames(win: Win, options: InstallChildFramesOptions = {}): void {
  if (hookedWindows.has(win)) return;
  hookedWindows.add(win);
  const report = options.report ?? ((m: string) => console.error(m));
  const safely = (w: Win | null) => {
    try {
      adopt(w, win, report);
    } catch {
      // never break the app over a frame
    }
  };

  const proto = win.HTMLIFrameElement?.prototype;
  if (proto) {
    const winDesc = Object.getOwnPropertyDescriptor(proto, 'contentWindow');
    const docDesc = Object.getOwnPropertyDescriptor(proto, 'contentDocument');
    const winGet = winDesc?.get;
    const docGet = docDesc?.get;
    if (winDesc && winGet) {
      Object.defineProperty(proto, 'contentWindow', {
        ...winDesc,
        get(this: HTMLIFrameElement) {
          const w = winGet.call(this) as Win | null;
          safely(w);
          return w;
        },
      });
    }
    if (docDesc && docGet && winGet) {
      Object.defineProperty(proto, 'contentDocument', {
        ...docDesc,
        get(this: HTMLIFrameElement) {
          safely(winGet.call(this) as Win | null);
          return docGet.call(this) as Document | null;
        },
      });
    }
  }

  // An iframe put in by script is adopted in the same call, so that `window.frames[i]` right after
  // finds it done; only the node itself is looked at (iframes deeper in an inserted tree wait for
  // the MutationObserver below).
  const adoptNodes = (nodes: readonly unknown[]) => {
    for (const n of nodes) {
      if (n && (n as Element).localName === 'iframe' && (n as Element).isConnected)
        safely((n as HTMLIFrameElement).contentWindow as Win | null);
    }
  };
  const wrapInsert = (target: object | undefined, names: readonly string[]) => {
    if (!target) return;
    for (const name of names) {
      const native = (target as Record<string, unknown>)[name];
      if (typeof native !== 'function') continue;
      Object.defineProperty(target, name, {
        configurable: true,
        writable: true,
        enumerable: true,
        value: function (this: unknown, ...args: unknown[]) {
          const result = (native as (...a: unknown[]) => unknown).apply(this, args);
          adoptNodes(args);
          return result;
        },
      });
    }
  };
  wrapInsert(win.Node?.prototype, ['appendChild', 'insertBefore', 'replaceChild']);
  wrapInsert(win.Element?.prototype, ['append', 'prepend', 'after', 'before', 'replaceWith']);
  wrapInsert(win.Document?.prototype, ['append', 'prepend']);

  const nativeOpen = win.open;
  if (typeof nativeOpen === 'function') {
    win.open = function open(this: unknown, ...args: Parameters<Window['open']>) {
      const w = nativeOpen.apply(win, args) as Win | null;
      safely(w);
      return w;
    } as typeof win.open;
  }

  const iframes = (node: Node): HTMLIFrameElement[] => {
    if (node.nodeType !== 1) return [];
    const el = node as Element;
    if (el.localName === 'iframe') return [el as HTMLIFrameElement];
    return el.firstElementChild ? Array.from(el.getElementsByTagName('iframe')) : [];
  };
  // Through the getter above when it is in place (it adopts too; adopting twice is a no-op).
  const frameWindow = (f: HTMLIFrameElement) => f.contentWindow as Win | null;
  if (typeof win.MutationObserver === 'function' && win.document) {
    new win.MutationObserver((records) => {
      for (const r of records)
        for (const n of r.addedNodes) for (const f of iframes(n)) safely(frameWindow(f));
    }).observe(win.document, { childList: true, subtree: true });
    // A frame's new document (srcdoc, about:blank) replaces the one adopted at insertion.
    win.document.addEventListener(
      'load',
      (e) => {
        const t = e.target as Element | null;
        if (t && t.localName === 'iframe') safely(frameWindow(t as HTMLIFrameElement));
      },
      true,
    );
  }
}
