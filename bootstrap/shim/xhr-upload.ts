/**
 * `xhr.upload` progress events for uploads the service worker carries (browsers stop firing them
 * once a service worker answers). Each same-origin XHR with a body is tagged with a unique
 * `x-zt-upload-id`; the SW strips it and reports bytes sent on a BroadcastChannel
 * (sw/upload-progress.ts; header, channel and message: shared/page-worker/); this re-emits them on `xhr.upload` as ProgressEvents (`progress`, then
 * `load` and `loadend`), and swallows the browser's own trusted ones for that XHR so nothing
 * arrives twice. If no report arrives (the request did not go through the tunnel), the final
 * events are emitted when the response head arrives, as the browser would have done by then.
 */
import type { UploadProgressMessage } from '../../shared/page-worker/messages.ts';
import { UPLOAD_ID_HEADER, UPLOAD_PROGRESS_CHANNEL } from '../../shared/page-worker/names.ts';

export interface InstallXhrUploadOptions {
  /** Requests to tag: those the service worker tunnels (same origin; a custom header on a
   * cross-origin request would cost a CORS preflight). */
  shouldTag(url: URL): boolean;
}

interface Tracked {
  xhr: XMLHttpRequest;
  total: number;
  loaded: number;
  done: boolean;
}

type Win = Window & typeof globalThis;

function bodySize(body: unknown, win: Win): number {
  if (typeof body === 'string') return new TextEncoder().encode(body).length;
  if (body instanceof win.Blob) return body.size;
  if (body instanceof ArrayBuffer) return body.byteLength;
  if (ArrayBuffer.isView(body)) return body.byteLength;
  if (body instanceof win.URLSearchParams) return new TextEncoder().encode(String(body)).length;
  return -1; // FormData, Document, streams: the SW's count is the only truth
}

export function installXhrUploadProgress(win: Win, options: InstallXhrUploadOptions): void {
  const proto = win.XMLHttpRequest.prototype;
  const nativeOpen = proto.open;
  const nativeSend = proto.send;
  const urls = new WeakMap<XMLHttpRequest, { method: string; url: URL | null }>();
  const byId = new Map<string, Tracked>();
  const guarded = new WeakSet<XMLHttpRequest>();
  const ours = new WeakSet<Event>();
  let channel: BroadcastChannel | null = null;

  const fire = (t: Tracked, type: string, loaded: number) => {
    const total = Math.max(t.total, 0);
    const e = new win.ProgressEvent(type, { lengthComputable: t.total >= 0, loaded, total });
    ours.add(e);
    t.xhr.upload.dispatchEvent(e);
  };
  const complete = (id: string, t: Tracked, loaded: number) => {
    if (t.done) return;
    t.done = true;
    byId.delete(id);
    fire(t, 'progress', loaded);
    fire(t, 'load', loaded);
    fire(t, 'loadend', loaded);
  };
  const onReport = (m: UploadProgressMessage) => {
    const t = byId.get(m.id);
    if (!t || t.done) return;
    if (t.total < 0 && m.total >= 0) t.total = m.total;
    if (m.failed) {
      // The browser reports the failure itself (error/abort on xhr.upload are not swallowed).
      t.done = true;
      byId.delete(m.id);
      return;
    }
    if (m.loaded < t.loaded) return;
    t.loaded = m.loaded;
    if (m.done) complete(m.id, t, m.loaded);
    else fire(t, 'progress', m.loaded);
  };

  proto.open = function (
    this: XMLHttpRequest,
    method: string,
    url: string | URL,
    ...rest: unknown[]
  ) {
    let u: URL | null = null;
    try {
      u = new URL(String(url), win.document.baseURI);
    } catch {
      // the native open throws the right error
    }
    urls.set(this, { method: String(method).toUpperCase(), url: u });
    return (nativeOpen as (...a: unknown[]) => void).call(this, method, url, ...rest);
  } as typeof proto.open;

  proto.send = function (this: XMLHttpRequest, body?: Document | XMLHttpRequestBodyInit | null) {
    const info = urls.get(this);
    if (
      body != null &&
      info?.url &&
      info.method !== 'GET' &&
      info.method !== 'HEAD' &&
      this.readyState === 1 &&
      options.shouldTag(info.url)
    ) {
      try {
        const id = win.crypto.randomUUID();
        this.setRequestHeader(UPLOAD_ID_HEADER, id);
        const t: Tracked = { xhr: this, total: bodySize(body, win), loaded: 0, done: false };
        byId.set(id, t);
        channel ??= new win.BroadcastChannel(UPLOAD_PROGRESS_CHANNEL);
        channel.onmessage = (e) => onReport(e.data as UploadProgressMessage);
        if (!guarded.has(this)) {
          guarded.add(this);
          for (const type of ['progress', 'load', 'loadend']) {
            this.upload.addEventListener(
              type,
              (e) => {
                if (!ours.has(e)) e.stopImmediatePropagation();
              },
              true,
            );
          }
        }
        const onHead = () => {
          if (this.readyState < 2) return;
          this.removeEventListener('readystatechange', onHead, true);
          if (!t.done) complete(id, t, t.total >= 0 ? t.total : t.loaded);
        };
        this.addEventListener('readystatechange', onHead, true);
        this.addEventListener('loadend', () => byId.delete(id), { once: true });
      } catch {
        // Never break the app's request over progress events.
      }
    }
    return nativeSend.call(this, body);
  };
}
