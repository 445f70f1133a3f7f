/**
 * A download whose connection ends half-way goes on from where it stopped, with a Range request,
 * when the server says that is safe: nothing is lost and the page sees one unbroken body.
 *
 * Why it matters: the router's WebSocket cannot be paused and the dials use no SDK flow control
 * (`tunnel.ts`), so a page that reads more slowly than the network delivers makes its connection
 * queue in the worker until it is closed, 256 MiB behind (its queued bytes still reach the page).
 * Firefox hands a worker's response to its page more slowly than a fast network delivers even
 * when the page reads at full speed, and lost large downloads that way (`bench/README.md`). A
 * connection lost for any other reason (a router gone) resumes the same way, on a new connection.
 *
 * Only what cannot change under us resumes (RFC 9110 §14): a GET the page sent without Range, a
 * 200 with `Accept-Ranges: bytes`, a Content-Length, no Content-Encoding, and a strong validator
 * for `If-Range` (a strong ETag, or a Last-Modified at least a second before the response's Date).
 * The continuation must be a 206 for exactly the missing bytes of the same length; anything else
 * (the resource changed: a 200) ends the body with the original error.
 */
import type { HttpResponse } from '../../shared/http/index.ts';

/** Resumes at most this many times in a row without a byte delivered in between. */
const MAX_RESUMES_WITHOUT_PROGRESS = 2;

/** Sends the request again for the bytes from `from` on, with `If-Range: validator`. */
export type Resend = (from: number, validator: string) => Promise<HttpResponse>;

/** The `If-Range` value that makes `response` safe to resume, or undefined when it is not. */
export function resumeValidator(
  method: string,
  requestHeaders: Headers,
  response: HttpResponse,
): string | undefined {
  if (method !== 'GET' || requestHeaders.has('range') || response.status !== 200) return undefined;
  const h = response.headers;
  const ranges = (h.get('accept-ranges') ?? '').toLowerCase().split(',');
  if (!ranges.some((r) => r.trim() === 'bytes')) return undefined;
  if (contentLength(h) === undefined) return undefined;
  const encoding = h.get('content-encoding');
  if (encoding !== null && encoding.trim().toLowerCase() !== 'identity') return undefined;
  const etag = h.get('etag')?.trim();
  if (etag?.startsWith('"')) return etag; // W/"…" is weak: never for If-Range
  const modified = Date.parse(h.get('last-modified') ?? '');
  const date = Date.parse(h.get('date') ?? '');
  if (Number.isFinite(modified) && Number.isFinite(date) && date - modified >= 1000) {
    return h.get('last-modified')!;
  }
  return undefined;
}

const contentLength = (h: Headers): number | undefined => {
  const v = h.get('content-length');
  return v !== null && /^\d+$/.test(v.trim()) ? Number(v) : undefined;
};

/** `Content-Range: bytes first-last/complete`. */
function contentRange(h: Headers): { first: number; last: number; complete: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(h.get('content-range')?.trim() ?? '');
  return m ? { first: Number(m[1]), last: Number(m[2]), complete: Number(m[3]) } : undefined;
}

/** Why a continuation cannot follow the bytes so far, or undefined when it can. */
function unfit(next: HttpResponse, from: number, complete: number): string | undefined {
  if (next.status !== 206) return `the server answered ${next.status}, not 206`;
  const range = contentRange(next.headers);
  if (!range || range.first !== from || range.last !== complete - 1 || range.complete !== complete)
    return `the server sent ${next.headers.get('content-range') ?? 'no Content-Range'}, not bytes ${from}-${complete - 1}/${complete}`;
  if (!next.body) return 'the server sent no body';
  return undefined;
}

/**
 * `response` with a body that resumes through `resend` when its connection ends early
 * (`ERR_HTTP_CONNECTION_CLOSED`); `validator` from `resumeValidator`. `onLost` hears why a
 * download could not go on.
 */
export function resumable(
  response: HttpResponse,
  validator: string,
  resend: Resend,
  onLost: (why: string) => void = () => {},
): HttpResponse {
  const first = response.body;
  const complete = contentLength(response.headers);
  if (!first || complete === undefined) return response;
  let reader = first.getReader();
  let delivered = 0;
  let resumesWithoutProgress = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          try {
            const r = await reader.read();
            if (r.done) {
              controller.close();
              return;
            }
            delivered += r.value.length;
            resumesWithoutProgress = 0;
            controller.enqueue(r.value);
            return;
          } catch (err) {
            if ((err as { code?: unknown }).code !== 'ERR_HTTP_CONNECTION_CLOSED') throw err;
            if (++resumesWithoutProgress > MAX_RESUMES_WITHOUT_PROGRESS) {
              onLost(`stopped again at ${delivered} of ${complete} bytes`);
              throw err;
            }
            let next: HttpResponse;
            try {
              next = await resend(delivered, validator);
            } catch (cause) {
              onLost(`the request for bytes ${delivered}- failed: ${String(cause)}`);
              throw err;
            }
            const why = unfit(next, delivered, complete);
            if (why) {
              await next.body?.cancel().catch(() => {});
              onLost(why);
              throw err;
            }
            reader = next.body!.getReader();
          }
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
  return { ...response, body };
}
