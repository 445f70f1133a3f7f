/**
 * `Last-Event-ID` for the app's Server-Sent Events. An `EventSource` that reconnects after the
 * server ended its stream sends the last event id it saw, and the app resumes from there; Chromium
 * leaves the header off when a service worker answers the request, so the app would start over.
 * The worker watches each `text/event-stream` body it hands a page (`observe`: the bytes pass
 * unchanged) and keeps the last event id per page and URL; a later request of that page for that
 * URL asking for an event stream, without the header, gets it (`lastEventIdFor`). Only a stream the
 * server ended counts: one the page cancelled (its EventSource closed) or that failed does not.
 */

/** What the SSE parser reports: the last event id, at each event dispatched (WHATWG HTML §9.2.6). */
export class EventStreamParser {
  readonly #decoder = new TextDecoder();
  readonly #onDispatch: (lastEventId: string) => void;
  #line = '';
  #afterCR = false;
  #idBuffer: string;

  constructor(lastEventId: string, onDispatch: (lastEventId: string) => void) {
    this.#idBuffer = lastEventId;
    this.#onDispatch = onDispatch;
  }

  push(chunk: Uint8Array): void {
    this.#text(this.#decoder.decode(chunk, { stream: true }));
  }

  /** The end of the stream: an event without its blank line is not dispatched. */
  end(): void {
    this.#text(this.#decoder.decode());
  }

  /** Text decoded as UTF-8 (the decoder drops a leading BOM), split into lines. */
  #text(s: string): void {
    let start = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c !== 0x0a && c !== 0x0d) continue;
      // LF right after CR ends nothing: CRLF is one line end.
      const skip = c === 0x0a && this.#afterCR && i === start && this.#line === '';
      this.#afterCR = c === 0x0d;
      if (!skip) this.#lineEnd(this.#line + s.slice(start, i));
      this.#line = '';
      start = i + 1;
    }
    if (start < s.length) {
      this.#line += s.slice(start);
      this.#afterCR = false;
    }
  }

  #lineEnd(line: string): void {
    if (line === '') {
      this.#onDispatch(this.#idBuffer);
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    if (field !== 'id') return;
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (!value.includes('\0')) this.#idBuffer = value;
  }
}

interface Entry {
  lastEventId: string;
  /** The server ended the stream (not the page, not a failure). */
  ended: boolean;
}

export interface EventStreamsOptions {
  /** Most entries kept; the least recently used go first. */
  max?: number;
  /** Ids of the pages still open; entries of others are dropped. */
  liveClients?: () => Promise<readonly string[]>;
  /**
   * Whether the browser itself sends `Last-Event-ID` on a reconnect a worker answers (Firefox
   * does; Blink does not). Then nothing is added: only the browser can tell a reconnect from a new
   * EventSource for the same URL, which must start without the header.
   */
  browserSendsIt?: boolean;
}

const keyOf = (clientId: string, url: string) => `${clientId} ${url}`;

const essence = (contentType: string | null) =>
  (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();

/** The last event id of each page's event streams, by page and URL. */
export class EventStreams {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  readonly #liveClients: (() => Promise<readonly string[]>) | undefined;
  readonly #browserSendsIt: boolean;

  constructor(options: EventStreamsOptions = {}) {
    this.#max = options.max ?? 64;
    this.#liveClients = options.liveClients;
    this.#browserSendsIt = options.browserSendsIt ?? false;
  }

  /**
   * The `Last-Event-ID` to add to a request of page `clientId` for `url`: the last event id of
   * the stream the server last ended there, when the request asks for an event stream and has none.
   */
  lastEventIdFor(clientId: string | undefined, url: string, headers: Headers): string | undefined {
    if (this.#browserSendsIt || !clientId || headers.has('last-event-id')) return undefined;
    if (!(headers.get('accept') ?? '').toLowerCase().includes('text/event-stream'))
      return undefined;
    const entry = this.#entries.get(keyOf(clientId, url));
    return entry?.ended && entry.lastEventId !== '' ? entry.lastEventId : undefined;
  }

  /**
   * The response with its body watched when it is an event stream (bytes unchanged); `sent` is the
   * `Last-Event-ID` the request carried, where the stream's last event id starts.
   */
  observe(clientId: string | undefined, url: string, sent: string, response: Response): Response {
    if (this.#browserSendsIt || !clientId || !response.body) return response;
    if (essence(response.headers.get('content-type')) !== 'text/event-stream') return response;
    const key = keyOf(clientId, url);
    const entry: Entry = { lastEventId: sent, ended: false };
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    this.#forgetGone();
    const parser = new EventStreamParser(sent, (id) => {
      entry.lastEventId = id;
    });
    const watched = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        controller.enqueue(chunk);
        parser.push(chunk);
      },
      flush() {
        parser.end();
        entry.ended = true;
      },
    });
    const { status, statusText, headers } = response;
    return new Response(response.body.pipeThrough(watched), { status, statusText, headers });
  }

  /** Forgets everything (sign-out, another identity). */
  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Drops the entries of pages that are gone (best effort, in the background). */
  #forgetGone(): void {
    this.#liveClients?.().then(
      (ids) => {
        const live = new Set(ids);
        for (const key of [...this.#entries.keys()]) {
          if (!live.has(key.slice(0, key.indexOf(' ')))) this.#entries.delete(key);
        }
      },
      () => {},
    );
  }
}
