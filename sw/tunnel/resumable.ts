/**
 * A download whose connection ends half-way goes on from where it stopped, with a Range request,
 * when the server says that is safe: nothing is lost and the page sees one unbroken body.
 *
 * Why it matters: the router's WebSocket cannot be paused and the dials use no SDK flow control
 * (`tunnel.ts`), so a page that reads more slowly than the network delivers makes its connection
 * queue in the worker until it is closed, 256 MiB behind (its queued bytes still reach the page).
 * Firefox hands a worker's response to its page more slowly than a fast network delivers even
 * when the page reads at full speed, and lost large downloads that way (`bench/README.md`). A
 * download that can resume loses only a request with its connection, so its connection is cut at
 * `BACKLOG_BYTES` behind instead, and it goes on in ranges of `RANGE_BYTES`, each asked for when
 * the page has had half of the one before: a range ends by itself, so a page that falls behind
 * again costs no cut (whose bytes in flight would be lost) and holds at most one and a half ranges
 * in the worker. A connection lost for any other reason (a router gone) resumes the same way, and
 * so does one silent for `STALL_MS` while the page waits for a byte.
 *
 * Only what cannot change under us resumes (RFC 9110 §14): a GET the page sent without Range, a
 * 200 with a strong validator for `If-Range` (a strong ETag, or a Last-Modified at least a second
 * before the response's Date), and either
 * - plain bytes: `Accept-Ranges: bytes`, a Content-Length, no Content-Encoding; each continuation
 *   must be a 206 from exactly the next missing byte, of the same complete length; or
 * - a body we decode (`content-decoding.ts`; Mattermost gzips whole file downloads, without
 *   ranges). The page has had decoded bytes, so the continuation asks for the plain
 *   representation from the decoded count. Nothing in the headers proves that plain bytes equal
 *   the decoded ones (a server that labels a `.gz` file `Content-Encoding: gzip` would send the
 *   compressed file), so the continuation starts up to 64 KiB early and goes on only if those
 *   bytes equal the last ones the page had.
 * Anything else (the resource changed: a 200) ends the body with the original error.
 */
import { HttpConnectionClosedError, type HttpResponse } from '../../shared/http/index.ts';
import { canDecode, decodeBody, isEncoded } from '../content-decoding.ts';
import { TunnelError } from './errors.ts';

/**
 * A resumable download's connection closes once this much of it waits unread in the worker. The
 * bytes that were on their way when it closed are lost (10 to 15 MiB here, `bench/README.md`),
 * so this happens once: the download then goes on in ranges, which end by themselves.
 */
export const BACKLOG_BYTES = 32 * 1024 * 1024;
/**
 * A continuation asks for this many bytes at a time (`resumable`): one request per 16 MiB, asked
 * ahead, costs nothing measurable, and one and a half ranges stay well under `BACKLOG_BYTES`.
 */
export const RANGE_BYTES = 16 * 1024 * 1024;
/**
 * A download that gets no byte for this long while the page waits for one is taken for lost and
 * goes on with a new request. OpenZiti v1.7.2's tunneler does not tell the worker when its app
 * ended a response early (`docs/openziti-protocol.md` §3.4): the circuit just falls silent.
 */
export const STALL_MS = 30_000;
/** Resumes at most this many times in a row without a byte delivered in between. */
const MAX_RESUMES_WITHOUT_PROGRESS = 2;
/** A decoded body's continuation repeats up to this many of the bytes the page had… */
const OVERLAP = 64 * 1024;
/** …and at least this many: fewer would not tell plain bytes from encoded ones. */
const MIN_OVERLAP = 1024;

/** How a response may resume: the `If-Range` value, and whether its body is decoded here. */
export interface ResumePlan {
  validator: string;
  decoded: boolean;
}

/**
 * Sends the request again for the plain bytes `first` to `last` (`Range: bytes=first-last`,
 * `If-Range: validator`, `Accept-Encoding: identity`).
 */
export type Resend = (first: number, last: number, validator: string) => Promise<HttpResponse>;

/** How `response` may resume, or undefined when it may not. */
export function resumePlan(
  method: string,
  requestHeaders: Headers,
  response: HttpResponse,
): ResumePlan | undefined {
  if (method !== 'GET' || requestHeaders.has('range') || response.status !== 200) return undefined;
  const h = response.headers;
  if (isEncoded(h)) {
    // An entity tag names one representation (RFC 9110 §8.8.3), and the continuation asks for
    // another; a modification date is the resource's.
    const validator = strongDate(h) ?? strongTag(h);
    return validator !== undefined && canDecode(h) ? { validator, decoded: true } : undefined;
  }
  const ranges = (h.get('accept-ranges') ?? '').toLowerCase().split(',');
  if (!ranges.some((r) => r.trim() === 'bytes')) return undefined;
  if (contentLength(h) === undefined) return undefined;
  const validator = strongTag(h) ?? strongDate(h);
  return validator === undefined ? undefined : { validator, decoded: false };
}

/** A strong ETag (W/"…" is weak: never for If-Range). */
function strongTag(h: Headers): string | undefined {
  const etag = h.get('etag')?.trim();
  return etag?.startsWith('"') ? etag : undefined;
}

/** A Last-Modified at least a second before Date (RFC 9110 §13.1.5). */
function strongDate(h: Headers): string | undefined {
  const modified = Date.parse(h.get('last-modified') ?? '');
  const date = Date.parse(h.get('date') ?? '');
  return Number.isFinite(modified) && Number.isFinite(date) && date - modified >= 1000
    ? h.get('last-modified')!
    : undefined;
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

/**
 * Why a continuation cannot carry bytes from `from` on, or undefined when it can; `complete` is the
 * full length when known. A server may send fewer or more bytes than the range asked for (RFC 9110
 * §14.2): whatever it sends from `from` on is taken.
 */
function unfit(next: HttpResponse, from: number, complete: number | undefined): string | undefined {
  if (next.status !== 206) return `the server answered ${next.status}, not 206`;
  if (isEncoded(next.headers))
    return `the server sent the bytes with Content-Encoding ${next.headers.get('content-encoding')}`;
  const range = contentRange(next.headers);
  const fits =
    range !== undefined &&
    range.first === from &&
    range.last >= from &&
    range.last < range.complete &&
    (complete === undefined || range.complete === complete);
  if (!fits) {
    const wanted = `bytes ${from}-…/${complete ?? '…'}`;
    return `the server sent ${next.headers.get('content-range') ?? 'no Content-Range'}, not ${wanted}`;
  }
  if (!next.body) return 'the server sent no body';
  return undefined;
}

/** The failure of a download whose next range could not be had (no connection was lost). */
const stopped = (at: number, complete: number | undefined) =>
  new TunnelError(
    'upstream-error',
    `the download stopped at ${at}${complete === undefined ? '' : ` of ${complete}`} bytes`,
  );

/**
 * At least the last `size` bytes of a stream, by their offset in it: the chunks themselves, not
 * copies (a chunk handed to the browser is read, not transferred; one that was would only make a
 * comparison fail, never pass).
 */
export class Tail {
  private readonly chunks: Uint8Array[] = [];
  /** The stream offset of the first chunk kept, and of the end. */
  private start = 0;
  private end = 0;
  constructor(private readonly size: number) {}
  push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.end += bytes.length;
    while (this.end - this.start - this.chunks[0]!.length >= this.size) {
      this.start += this.chunks.shift()!.length;
    }
  }
  /** Whether `bytes`, found at `offset` of the stream, equal what was there (all within the tail). */
  equals(bytes: Uint8Array, offset: number): boolean {
    if (offset < this.start || offset + bytes.length > this.end) return false;
    let i = 0;
    let at = this.start;
    for (const chunk of this.chunks) {
      for (let j = Math.max(0, offset + i - at); j < chunk.length && i < bytes.length; j++, i++) {
        if (chunk[j] !== bytes[i]) return false;
      }
      at += chunk.length;
      if (i === bytes.length) break;
    }
    return i === bytes.length;
  }
}

const connectionClosed = (err: unknown): boolean =>
  (err as { code?: unknown } | null)?.code === 'ERR_HTTP_CONNECTION_CLOSED';

export interface ResumableOptions {
  /** Hears why a download could not go on. */
  onLost?: (why: string) => void;
  /** Bytes per continuation; `RANGE_BYTES`. */
  rangeBytes?: number;
  /** Silence, while the page waits, after which the connection is taken for lost; `STALL_MS`. */
  stallMs?: number;
}

/**
 * Calls `onStall` once a read has been pending for `ms`: one timer, re-armed when it fires early,
 * not one per read (a download reads tens of thousands of chunks per GiB).
 */
function stallWatch(ms: number, onStall: () => void) {
  let since: number | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = () => {
    timer = undefined;
    if (since === undefined) return;
    const waited = performance.now() - since;
    if (waited < ms) timer = setTimeout(check, ms - waited);
    else {
      since = undefined;
      onStall();
    }
  };
  return {
    reading() {
      since = performance.now();
      timer ??= setTimeout(check, ms);
    },
    read() {
      since = undefined;
    },
    stop() {
      since = undefined;
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * `response` with a body that resumes through `resend` when its connection ends early
 * (`ERR_HTTP_CONNECTION_CLOSED`); `plan` from `resumePlan`. The continuation asks for
 * `rangeBytes` at a time, and for the next range once the page has had half of the one before:
 * a range ends by itself, so nothing is cut and nothing in flight is lost, and the worker holds at
 * most one and a half ranges of a page that falls behind. A decoded plan's response comes back
 * decoded, without Content-Encoding and Content-Length. `onLost` hears why a download could not
 * go on.
 */
export function resumable(
  response: HttpResponse,
  plan: ResumePlan,
  resend: Resend,
  { onLost = () => {}, rangeBytes = RANGE_BYTES, stallMs = STALL_MS }: ResumableOptions = {},
): HttpResponse {
  if (!response.body) return response;
  response.capBacklog?.(BACKLOG_BYTES);
  let complete = plan.decoded ? undefined : contentLength(response.headers);
  let headers = response.headers;
  let rawHeaders = response.rawHeaders;
  let source = response.body;
  if (plan.decoded) {
    // A decoder errors with its source's own error (pipeThrough aborts it with that reason; so
    // do Chromium's and Firefox's DecompressionStream), so a lost connection still reads as one.
    const decoded = decodeBody(response.headers, source);
    headers = decoded.headers;
    rawHeaders = rawHeaders.filter(([name]) => headers.has(name));
    source = decoded.body!;
  }
  let reader = source.getReader();
  const tail = plan.decoded ? new Tail(OVERLAP) : undefined;
  let delivered = 0;
  let resumesWithoutProgress = 0;
  /** Bytes the continuation must repeat before new ones come: [offset, end). */
  let repeat = { at: 0, end: 0 };
  /** The error the connection ended with, for the page if the continuation fails. */
  let lostWith: unknown;
  /** Where the range being read ends (exclusive); undefined while the page's own response is. */
  let rangeEnd: number | undefined;
  /** The next range, asked for while the one before is still being read. */
  let ahead: { from: number; response: Promise<HttpResponse> } | undefined;
  /** The page cancelled the body: a range that arrives after is cancelled too. */
  let cancelled: unknown;
  /** Why the connection being read was given up for silent (its read then ends as done). */
  let stalled: HttpConnectionClosedError | undefined;
  const watch = stallWatch(stallMs, () => {
    stalled = new HttpConnectionClosedError(`no byte for ${stallMs / 1000} s`, false);
    void reader.cancel(stalled).catch(() => {});
  });

  const ask = (from: number) => resend(from, from + rangeBytes - 1, plan.validator);
  const dropAhead = () => {
    void ahead?.response.then((r) => r.body?.cancel()).catch(() => {});
    ahead = undefined;
  };

  const deliver = (controller: ReadableStreamDefaultController<Uint8Array>, bytes: Uint8Array) => {
    delivered += bytes.length;
    resumesWithoutProgress = 0;
    tail?.push(bytes);
    controller.enqueue(bytes);
    if (
      rangeEnd !== undefined &&
      rangeEnd < complete! &&
      !ahead &&
      rangeEnd - delivered <= rangeBytes / 2
    ) {
      const next = ask(rangeEnd);
      next.catch(() => {}); // awaited when its turn comes
      ahead = { from: rangeEnd, response: next };
    }
  };

  /** Reads on from the range at `from` (the one asked ahead when it starts there), or throws `failWith`. */
  const openRange = async (from: number, failWith: unknown): Promise<void> => {
    let asked: Promise<HttpResponse>;
    if (ahead?.from === from) {
      asked = ahead.response;
      ahead = undefined;
    } else {
      dropAhead();
      asked = ask(from);
    }
    let next: HttpResponse;
    try {
      next = await asked;
    } catch (cause) {
      onLost(`the request for bytes ${from}- failed: ${String(cause)}`);
      throw failWith;
    }
    if (cancelled !== undefined) {
      await next.body?.cancel(cancelled).catch(() => {});
      throw cancelled;
    }
    const why = unfit(next, from, complete);
    if (why) {
      await next.body?.cancel().catch(() => {});
      onLost(why);
      throw failWith;
    }
    const range = contentRange(next.headers)!;
    complete = range.complete;
    rangeEnd = range.last + 1;
    next.capBacklog?.(BACKLOG_BYTES);
    reader = next.body!.getReader();
  };

  /** Opens the continuation after a lost connection, or throws `err` after saying why it cannot. */
  const resume = async (err: unknown): Promise<void> => {
    lostWith = err;
    if (++resumesWithoutProgress > MAX_RESUMES_WITHOUT_PROGRESS) {
      onLost(
        `stopped again at ${delivered}${complete === undefined ? '' : ` of ${complete}`} bytes`,
      );
      throw err;
    }
    // Only the switch from decoded to plain bytes needs checking; ranges are all plain.
    const overlap = tail && rangeEnd === undefined ? Math.min(delivered, OVERLAP) : 0;
    if (tail && rangeEnd === undefined && overlap < MIN_OVERLAP) {
      onLost(`only ${delivered} bytes had arrived: too few to check plain bytes against`);
      throw err;
    }
    const from = delivered - overlap;
    await openRange(from, err);
    repeat = { at: from, end: delivered };
  };

  /** Delivers the next bytes, going on through continuations and ranges as needed. */
  const fill = async (controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> => {
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array> | undefined;
      let failure: unknown;
      watch.reading();
      try {
        r = await reader.read();
      } catch (err) {
        failure = err;
      }
      watch.read();
      // A silent connection was cancelled: its read ended, but the download did not.
      if (stalled) [failure, stalled] = [stalled, undefined];
      if (failure !== undefined || !r) {
        if (!connectionClosed(failure)) throw failure;
        await resume(failure);
        continue;
      }
      if (r.done) {
        if (repeat.at < repeat.end) {
          onLost('the continuation ended before the bytes it repeats');
          throw lostWith;
        }
        if (rangeEnd !== undefined && delivered !== rangeEnd) {
          onLost(`the range ended at ${delivered}, not at ${rangeEnd}`);
          throw stopped(delivered, complete);
        }
        if (rangeEnd !== undefined && rangeEnd < complete!) {
          await openRange(rangeEnd, stopped(delivered, complete));
          continue;
        }
        watch.stop();
        controller.close();
        return;
      }
      let bytes = r.value;
      if (repeat.at < repeat.end) {
        const n = Math.min(bytes.length, repeat.end - repeat.at);
        if (!tail!.equals(bytes.subarray(0, n), repeat.at)) {
          await reader.cancel().catch(() => {});
          onLost(`the plain bytes from ${repeat.at} differ from the decoded ones the page had`);
          throw lostWith;
        }
        repeat.at += n;
        bytes = bytes.subarray(n);
        if (bytes.length === 0) continue;
      }
      deliver(controller, bytes);
      return;
    }
  };

  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          await fill(controller);
        } catch (err) {
          // The body failed: nothing may stay open for it (a range asked ahead, the timer).
          watch.stop();
          dropAhead();
          throw err;
        }
      },
      cancel: (reason) => {
        cancelled = reason ?? 'cancelled';
        watch.stop();
        dropAhead();
        return reader.cancel(reason).catch(() => {}); // a lost connection has nothing to cancel
      },
    },
    { highWaterMark: 0 },
  );
  return { ...response, headers, rawHeaders, body };
}
