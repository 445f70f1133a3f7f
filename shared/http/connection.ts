import type { ByteDuplex } from '../streams/duplex.ts';
import { BodySourceError, bodyFraming, type RequestBody, writeRequest } from './body-writer.ts';
import { HttpAbortError, HttpConnectionClosedError, type HttpError } from './errors.ts';
import { encodeRequestHead, type HeaderInput } from './request-head.ts';
import { type HttpResponse, toHeaders } from './response.ts';
import { type ParseEvent, type ResponseHead, ResponseParser } from './response-parser.ts';

export interface HttpRequest {
  method: string;
  /** origin-form target: path and query (`/api/v4/users/me?x=1`). */
  target: string;
  /** Must contain `Host`. Hop-by-hop fields and Content-Length are dropped (framing is ours). */
  headers: HeaderInput;
  body?: RequestBody;
  /** Size of a stream body when known: sent as Content-Length instead of chunked. */
  contentLength?: number;
  /** Called after each body write with the body bytes sent so far (upload progress). */
  onUploadProgress?: (bytesSent: number) => void;
  signal?: AbortSignal;
}

/** Result of `upgrade()`: the 101 response and the raw stream after its head, or the refusal. */
export type HttpUpgradeResult =
  | { upgraded: true; response: HttpResponse; duplex: ByteDuplex & { close(): void } }
  | { upgraded: false; response: HttpResponse };

export interface HttpConnectionOptions {
  maxHeadBytes?: number;
  maxHeaders?: number;
  /** The response was fully read and the connection can take another request. */
  onIdle?: (conn: HttpConnection) => void;
  /** The connection closed (by either side, or after an error, or it was upgraded away). */
  onClose?: (conn: HttpConnection) => void;
}

export type HttpConnectionState = 'idle' | 'busy' | 'closed' | 'upgraded';

type Closable = ByteDuplex & { close?(): void };

/**
 * One HTTP/1.1 connection over a byte stream, carrying one request at a time (no pipelining).
 * It is reusable (`state === 'idle'`) once the response body was read to its end, the request body
 * was fully sent, the response was HTTP/1.1 and neither side asked to close. While idle it keeps a
 * read pending, so a server closing an idle connection is noticed at once (`onClose`).
 */
export class HttpConnection {
  readonly #duplex: Closable;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #options: HttpConnectionOptions;
  #state: HttpConnectionState = 'idle';
  #requests = 0;
  #pendingRead: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;
  #error: HttpError | null = null;

  constructor(duplex: Closable, options: HttpConnectionOptions = {}) {
    this.#duplex = duplex;
    this.#reader = duplex.readable.getReader();
    this.#writer = duplex.writable.getWriter();
    this.#options = options;
    this.#watchIdle();
  }

  get state(): HttpConnectionState {
    return this.#state;
  }

  /** Requests started on this connection (more than one means it was reused). */
  get requestCount(): number {
    return this.#requests;
  }

  /** Sends a request and resolves with the response once its head has arrived (1xx skipped). */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const r = await this.#exchange(req, false);
    return r.response;
  }

  /**
   * Sends an upgrade request (`Connection: upgrade` and `Upgrade` kept, e.g. a WebSocket
   * handshake). On 101 the connection leaves HTTP and the raw stream after the head is returned;
   * otherwise the ordinary response is.
   */
  upgrade(req: HttpRequest): Promise<HttpUpgradeResult> {
    return this.#exchange(req, true);
  }

  /** Tears the connection down; a pending request or body read fails. Safe to repeat. */
  close(): void {
    if (this.#state === 'closed') return;
    const wasUpgraded = this.#state === 'upgraded';
    this.#state = 'closed';
    if (!wasUpgraded) {
      this.#reader.cancel().catch(() => {});
      this.#writer.abort().catch(() => {});
      this.#duplex.close?.();
      this.#options.onClose?.(this);
    }
  }

  #fail(err: HttpError): void {
    this.#error ??= err;
    this.close();
  }

  #watchIdle(): void {
    const p = this.#reader.read();
    this.#pendingRead = p;
    // Nothing may arrive on an idle connection: EOF, an error or stray bytes all end it.
    const onIdleEvent = () => {
      if (this.#pendingRead === p && this.#state === 'idle') this.close();
    };
    p.then(onIdleEvent, onIdleEvent);
  }

  async #readChunk(parser: ResponseParser): Promise<ReadableStreamReadResult<Uint8Array>> {
    let r: ReadableStreamReadResult<Uint8Array>;
    try {
      const p = this.#pendingRead;
      this.#pendingRead = null;
      r = await (p ?? this.#reader.read());
    } catch (e) {
      throw (
        this.#error ??
        new HttpConnectionClosedError(
          `connection failed: ${e instanceof Error ? e.message : String(e)}`,
          parser.bytesReceived === 0,
          { cause: e },
        )
      );
    }
    if (this.#error) throw this.#error;
    return r;
  }

  async #exchange(req: HttpRequest, upgrade: boolean): Promise<HttpUpgradeResult> {
    if (this.#state !== 'idle') throw new Error(`HttpConnection is ${this.#state}, not idle`);
    const framing = bodyFraming(req.body, req.contentLength);
    const head = encodeRequestHead({
      method: req.method,
      target: req.target,
      headers: req.headers,
      framing,
      upgrade,
    });
    if (req.signal?.aborted) throw new HttpAbortError(undefined, { cause: req.signal.reason });
    this.#state = 'busy';
    this.#requests++;
    const parser = new ResponseParser({
      method: req.method,
      maxHeadBytes: this.#options.maxHeadBytes,
      maxHeaders: this.#options.maxHeaders,
    });
    const onAbort = () => this.#fail(new HttpAbortError(undefined, { cause: req.signal?.reason }));
    req.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => req.signal?.removeEventListener('abort', onAbort);

    let sendDone = false;
    const sending = writeRequest(this.#writer, head, req.body, framing, req.onUploadProgress).then(
      () => {
        sendDone = true;
      },
      (e: unknown) => {
        // A failing body source or a wrong length ends the exchange. A failing connection is left
        // to the read side, because the server may still have answered (e.g. 413 then close).
        if (e instanceof BodySourceError || (e as HttpError).code === 'ERR_HTTP_BODY_LENGTH') {
          this.#fail(e as HttpError);
        }
      },
    );
    const requestWantsClose = /(^|,)\s*close\s*(,|$)/i.test(
      headerValue(req.headers, 'connection') ?? '',
    );

    try {
      // Read until the final head; events after it in the same chunk start the body queue.
      let finalHead: ResponseHead | null = null;
      const queue: ParseEvent[] = [];
      while (!finalHead) {
        const r = await this.#readChunk(parser);
        const events = r.done ? parser.end() : parser.push(r.value);
        for (const ev of events) {
          if (finalHead) queue.push(ev);
          else if (ev.type === 'head' && (ev.head.status >= 200 || ev.head.status === 101)) {
            finalHead = ev.head;
          }
        }
      }
      const h = finalHead;
      if (h.status === 101) {
        cleanup();
        if (!upgrade) {
          throw new HttpConnectionClosedError(
            'unexpected 101 response to a non-upgrade request',
            false,
          );
        }
        const response = this.#makeResponse(h, null, Promise.resolve(new Headers()));
        return { upgraded: true, response, duplex: this.#detach(parser.takeUpgradeBytes()) };
      }
      let resolveTrailers!: (h: Headers) => void;
      const trailers = new Promise<Headers>((res) => {
        resolveTrailers = res;
      });
      // A cap lasts while this response's body is being read (`HttpResponse.capBacklog`).
      let capped: boolean | 'over' = false;
      const finish = (complete: boolean) => {
        cleanup();
        if (capped === true) this.#duplex.capBacklog?.(undefined);
        capped = 'over';
        resolveTrailers(new Headers());
        if (this.#state !== 'busy') return;
        // Reuse only after a complete exchange both ways; a still-sending body means the server
        // answered early, and the rest of our body would be read as the next request.
        void sending.then(() => {
          if (this.#state !== 'busy') return;
          if (complete && sendDone && h.keepAlive && !requestWantsClose) {
            this.#state = 'idle';
            this.#watchIdle();
            this.#options.onIdle?.(this);
          } else this.close();
        });
        if (!sendDone && complete && req.body instanceof ReadableStream) this.close();
      };
      let ended = false;
      const takeEnd = (ev: ParseEvent) => {
        if (ev.type === 'end') {
          ended = true;
          resolveTrailers(toHeaders(ev.trailers));
        }
      };
      queue.forEach(takeEnd);
      if (h.framing.kind === 'none' || (ended && queue.every((e) => e.type !== 'data'))) {
        finish(true);
        return { upgraded: false, response: this.#makeResponse(h, null, trailers) };
      }
      const body = new ReadableStream<Uint8Array>(
        {
          pull: async (controller) => {
            try {
              for (;;) {
                const ev = queue.shift();
                if (ev) {
                  if (ev.type === 'data' && ev.data.length > 0) {
                    controller.enqueue(ev.data);
                    // The last bytes: end the stream now, so the connection is reusable at once
                    // even if the consumer never asks for the end.
                    if (ended && queue.every((e) => e.type !== 'data' || e.data.length === 0)) {
                      queue.length = 0;
                      controller.close();
                      finish(true);
                    }
                    return;
                  }
                  continue;
                }
                if (ended) {
                  controller.close();
                  finish(true);
                  return;
                }
                const r = await this.#readChunk(parser);
                for (const e of r.done ? parser.end() : parser.push(r.value)) {
                  queue.push(e);
                  takeEnd(e);
                }
              }
            } catch (e) {
              this.#fail(e as HttpError);
              finish(false);
              throw e;
            }
          },
          cancel: (reason) => {
            this.#fail(new HttpAbortError('the response body was cancelled', { cause: reason }));
            finish(false);
          },
        },
        { highWaterMark: 0 },
      );
      const duplex = this.#duplex;
      const capBacklog = duplex.capBacklog
        ? (bytes: number) => {
            if (capped === 'over') return;
            capped = true;
            duplex.capBacklog?.(bytes);
          }
        : undefined;
      return { upgraded: false, response: this.#makeResponse(h, body, trailers, capBacklog) };
    } catch (e) {
      cleanup();
      this.#fail(e as HttpError);
      throw this.#error === e || !this.#error ? e : this.#error;
    }
  }

  #makeResponse(
    h: ResponseHead,
    body: ReadableStream<Uint8Array> | null,
    trailers: Promise<Headers>,
    capBacklog?: (bytes: number) => void,
  ): HttpResponse {
    return {
      ...(capBacklog ? { capBacklog } : {}),
      status: h.status,
      statusText: h.statusText,
      httpVersion: h.version,
      headers: toHeaders(h.headers),
      rawHeaders: h.headers,
      setCookies: h.headers.filter(([n]) => n.toLowerCase() === 'set-cookie').map(([, v]) => v),
      body,
      trailers,
    };
  }

  /** Hands the stream over to the upgraded protocol; this object no longer reads or writes. */
  #detach(leftover: Uint8Array): ByteDuplex & { close(): void } {
    this.#state = 'upgraded';
    this.#options.onClose?.(this);
    const reader = this.#reader;
    const writer = this.#writer;
    const duplex = this.#duplex;
    let first: Uint8Array | null = leftover.length ? leftover : null;
    const readable = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          if (first) {
            controller.enqueue(first);
            first = null;
            return;
          }
          const r = await reader.read();
          if (r.done) controller.close();
          else controller.enqueue(r.value);
        },
        cancel: (reason) => reader.cancel(reason),
      },
      { highWaterMark: 0 },
    );
    const writable = new WritableStream<Uint8Array>({
      write: (chunk) => writer.write(chunk),
      close: () => writer.close(),
      abort: (reason) => writer.abort(reason),
    });
    return {
      readable,
      writable,
      close: () => {
        reader.cancel().catch(() => {});
        writer.abort().catch(() => {});
        duplex.close?.();
      },
    };
  }
}

function headerValue(headers: HeaderInput, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  if (Symbol.iterator in (headers as object)) {
    for (const [n, v] of headers as Iterable<readonly [string, string]>) {
      if (n.toLowerCase() === name) return v;
    }
    return undefined;
  }
  for (const [n, v] of Object.entries(headers as Record<string, string | readonly string[]>)) {
    if (n.toLowerCase() === name) return typeof v === 'string' ? v : v.join(', ');
  }
  return undefined;
}
