/**
 * Upload progress for XHR uploads the service worker carries. Browsers stop firing
 * `xhr.upload` progress events once a service worker answers the request, so the page shim
 * (bootstrap/shim/xhr-upload.ts) tags each upload with `x-zt-upload-id`, the SW strips the tag
 * before tunnelling, feeds the HTTP layer's `onUploadProgress(bytesSent)` into a reporter, and the
 * reporter posts `{ id, loaded, total, done }` on a BroadcastChannel the shim listens to (the
 * header, the channel and the message: shared/page-worker/).
 *
 * Wiring in the tunnel's fetch handler:
 *   const upload = trackUpload(request.headers, { total: contentLength });
 *   // upload.headers: the request's headers without the tag
 *   pool.request({ ..., onUploadProgress: upload?.onUploadProgress });
 *   // after the request body was sent (or failed): upload?.finish()
 */
import { isUploadId, type UploadProgressMessage } from '../shared/page-worker/messages.ts';
import { UPLOAD_ID_HEADER, UPLOAD_PROGRESS_CHANNEL } from '../shared/page-worker/names.ts';

/** Reports are sent at most this often (plus the final one). */
export const UPLOAD_PROGRESS_INTERVAL_MS = 50;

export interface UploadReporter {
  readonly id: string;
  /** The request headers without the upload tag. */
  readonly headers: Headers;
  onUploadProgress(bytesSent: number): void;
  /** Sends the final report: complete, or failed (the request ended before its body was sent). */
  finish(failed?: boolean): void;
}

export interface TrackUploadOptions {
  total?: number;
  intervalMs?: number;
  post?: (m: UploadProgressMessage) => void;
  now?: () => number;
}

let channel: BroadcastChannel | null = null;
function broadcast(m: UploadProgressMessage): void {
  channel ??= new BroadcastChannel(UPLOAD_PROGRESS_CHANNEL);
  channel.postMessage(m);
}

/** A reporter for a tagged request, or null (no tag, or a malformed one, which is dropped too). */
export function trackUpload(
  requestHeaders: Headers,
  options: TrackUploadOptions = {},
): UploadReporter | null {
  const id = requestHeaders.get(UPLOAD_ID_HEADER);
  if (id === null) return null;
  const headers = new Headers(requestHeaders);
  headers.delete(UPLOAD_ID_HEADER);
  if (!isUploadId(id)) return null;
  const total = options.total ?? -1;
  const interval = options.intervalMs ?? UPLOAD_PROGRESS_INTERVAL_MS;
  const post = options.post ?? broadcast;
  const now = options.now ?? (() => Date.now());
  let last = Number.NEGATIVE_INFINITY;
  let loaded = 0;
  let finished = false;
  return {
    id,
    headers,
    onUploadProgress(bytesSent) {
      if (finished) return;
      loaded = bytesSent;
      const t = now();
      if (t - last < interval) return;
      last = t;
      post({ id, loaded, total, done: false });
    },
    finish(failed = false) {
      if (finished) return;
      finished = true;
      post({
        id,
        loaded,
        total: total >= 0 ? total : loaded,
        done: !failed,
        ...(failed ? { failed } : {}),
      });
    },
  };
}
