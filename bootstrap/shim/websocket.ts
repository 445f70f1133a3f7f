/**
 * The page's `WebSocket`, replaced before any app script runs. Sockets whose URL `shouldTunnel`
 * accepts are carried by the service worker over a MessagePort (shared/page-worker/websocket-port.ts);
 * all others are the browser's own WebSocket, unchanged.
 *
 * The tunnelled class follows the WHATWG WebSockets standard for what an app can observe: URL and
 * subprotocol validation (SyntaxError), http(s) -> ws(s), relative URLs against the document base,
 * constants on class and instance, `send` (InvalidStateError while CONNECTING; after closing only
 * `bufferedAmount` grows), `close` (InvalidAccessError / SyntaxError), event order (error before
 * close when the connection fails), real MessageEvent / CloseEvent, `binaryType`, and
 * `instanceof WebSocket` (its prototype chain contains the browser's `WebSocket.prototype`).
 *
 * Liveness: the page heartbeats on the port; when the service worker stops answering (the browser
 * stopped it), open sockets close with 1006 and the app's reconnect gets a fresh socket. While any
 * socket is open, `keepAlive()` is called every `keepAliveIntervalMs` (10 s): one small message to
 * the controlling service worker, a service-worker event that renews its lifetime. Measured with
 * e2e/websocket/measure-keepalive.ts (idle socket, 330 s): Firefox stops the worker after its
 * 5-minute grace without these messages (socket closed 1006) and keeps it with them; Chromium under
 * Playwright kept the worker either way (automation may hold it), so there it is untested beyond
 * "does no harm". Port heartbeats alone did not keep Firefox's worker alive.
 */
import {
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TIMEOUT_MS,
  INITIAL_CREDIT,
  type PageToSw,
  type SwToPage,
} from '../../shared/page-worker/websocket-port.ts';

export interface InstallWebSocketOptions {
  /** Whether a socket to this (absolute ws/wss) URL goes through the tunnel. */
  shouldTunnel(url: URL): boolean;
  /** The page's end of a fresh MessageChannel whose other end was handed to the service worker. */
  connect(): MessagePort | Promise<MessagePort>;
  /** Keeps the service worker alive while sockets are open; called periodically. */
  keepAlive?: () => void;
  keepAliveIntervalMs?: number;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
}

type Win = Window & typeof globalThis;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const MAX_REASON_BYTES = 123;
/** Grant credit back at once past this many consumed bytes; smaller amounts are batched. */
const CREDIT_BATCH = 64 * 1024;

const encoder = new TextEncoder();

/** Replaces `win.WebSocket`; returns the tunnelled class. */
export function installWebSocket(win: Win, options: InstallWebSocketOptions): typeof WebSocket {
  const Native = win.WebSocket;
  // The page's own constructors (tests pass a window-like object).
  const { DOMException: NativeDOMException, Event, MessageEvent, CloseEvent, Blob } = win;
  const hbInterval = options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;
  const hbTimeout = options.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
  /** Open tunnelled sockets, each with its "page is going away" action. */
  const live = new Map<object, () => void>();
  let keepAliveTimer: ReturnType<typeof setInterval> | undefined;

  const track = (ws: object, goAway: (() => void) | null) => {
    if (goAway) live.set(ws, goAway);
    else live.delete(ws);
    if (live.size && !keepAliveTimer && options.keepAlive) {
      options.keepAlive();
      keepAliveTimer = setInterval(
        () => options.keepAlive?.(),
        options.keepAliveIntervalMs ?? 10_000,
      );
    } else if (!live.size && keepAliveTimer) {
      clearInterval(keepAliveTimer);
      keepAliveTimer = undefined;
    }
  };

  /** WHATWG "new WebSocket(url, protocols)" steps 1-6. */
  function parseUrl(url: unknown): URL {
    let u: URL;
    try {
      u = new URL(String(url), win.document.baseURI);
    } catch {
      throw new NativeDOMException(
        `Failed to construct 'WebSocket': The URL '${String(url)}' is invalid.`,
        'SyntaxError',
      );
    }
    if (u.protocol === 'http:') u.protocol = 'ws:';
    else if (u.protocol === 'https:') u.protocol = 'wss:';
    if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
      throw new NativeDOMException(
        `Failed to construct 'WebSocket': The URL's scheme must be either 'http', 'https', 'ws', or 'wss'. '${u.protocol.slice(0, -1)}' is not allowed.`,
        'SyntaxError',
      );
    }
    if (u.href.includes('#')) {
      throw new NativeDOMException(
        `Failed to construct 'WebSocket': The URL contains a fragment identifier ('${u.hash}'). Fragment identifiers are not allowed in WebSocket URLs.`,
        'SyntaxError',
      );
    }
    return u;
  }

  function parseProtocols(protocols: unknown): string[] {
    if (protocols === undefined) return [];
    // WebIDL (DOMString or sequence<DOMString>): an iterable object is a sequence.
    const list =
      typeof protocols === 'object' && protocols !== null && Symbol.iterator in protocols
        ? Array.from(protocols as Iterable<unknown>, String)
        : [String(protocols)];
    const seen = new Set<string>();
    for (const p of list) {
      if (!TOKEN.test(p) || seen.has(p)) {
        throw new NativeDOMException(
          `Failed to construct 'WebSocket': The subprotocol '${p}' is invalid.`,
          'SyntaxError',
        );
      }
      seen.add(p);
    }
    return list;
  }

  class TunnelledWebSocket extends EventTarget {
    #url = '';
    #state = CONNECTING;
    #protocol = '';
    #extensions = '';
    #binaryType: BinaryType = 'blob';
    #buffered = 0;
    #port: MessagePort | null = null;
    #handlers = new Map<string, EventListenerOrEventListenerObject | null>();
    #origin = '';
    #sendQueue: Promise<void> = Promise.resolve();
    #consumed = 0;
    #creditTimer: ReturnType<typeof setTimeout> | undefined;
    #hbTimer: ReturnType<typeof setInterval> | undefined;
    /** Since when, and over how many timer turns, the worker has not answered. */
    #unanswered: { since: number; turns: number } | undefined;

    // biome-ignore lint/correctness/noUnreachableSuper: untunnelled URLs return the native socket
    constructor(url: string | URL, protocols?: string | string[]) {
      // biome-ignore lint/complexity/noArguments: WebIDL counts arguments, not undefined ones
      if (arguments.length < 1) {
        throw new TypeError(
          `Failed to construct 'WebSocket': 1 argument required, but only 0 present.`,
        );
      }
      const u = parseUrl(url);
      const list = parseProtocols(protocols);
      if (!options.shouldTunnel(u)) {
        // Not ours: the browser's own socket, returned in place of this object.
        // biome-ignore lint/correctness/noConstructorReturn: deliberate, as above
        return new Native(u.href, list) as unknown as TunnelledWebSocket;
      }
      super();
      this.#url = u.href;
      this.#origin = u.origin;
      track(this, () => this.#goAway());
      void this.#start(u.href, list);
    }

    async #start(url: string, protocols: string[]): Promise<void> {
      let port: MessagePort;
      try {
        port = await options.connect();
      } catch {
        this.#finish(1006, '', false, true);
        return;
      }
      if (this.#state === CLOSED) {
        port.close();
        return;
      }
      this.#port = port;
      port.onmessage = (e: MessageEvent) => this.#onPortMessage(e.data as SwToPage);
      port.start();
      this.#post({ t: 'open', url, protocols, credit: INITIAL_CREDIT });
      if (this.#state === CLOSING) this.#post({ t: 'close' });
      // Gone means unanswered for `hbTimeout` and as many of this timer's turns: a long task or
      // throttled timers stretch the time, and the turn after one may run before the answers
      // that queued meanwhile (websocket-port.ts).
      const turns = Math.ceil(hbTimeout / hbInterval);
      this.#hbTimer = setInterval(() => {
        if (this.#unanswered === undefined) this.#unanswered = { since: Date.now(), turns: 0 };
        else if (
          ++this.#unanswered.turns >= turns &&
          Date.now() - this.#unanswered.since > hbTimeout
        ) {
          // The service worker is gone (stopped by the browser): as a dropped connection.
          this.#finish(1006, '', false, false);
          return;
        }
        this.#post({ t: 'hb' });
      }, hbInterval);
    }

    #post(m: PageToSw, transfer: Transferable[] = []): void {
      try {
        this.#port?.postMessage(m, transfer);
      } catch {
        // A closed port: the heartbeat ends the socket.
      }
    }

    #onPortMessage(m: SwToPage): void {
      this.#unanswered = undefined;
      if (this.#state === CLOSED) return;
      switch (m.t) {
        case 'open':
          if (this.#state !== CONNECTING) return;
          this.#state = OPEN;
          this.#protocol = m.protocol;
          this.#extensions = m.extensions;
          this.dispatchEvent(new Event('open'));
          return;
        case 'message': {
          if (this.#state !== OPEN) return;
          const data =
            typeof m.data === 'string' || this.#binaryType === 'arraybuffer'
              ? m.data
              : new Blob([m.data]);
          const cost = typeof m.data === 'string' ? m.data.length : m.data.byteLength;
          this.dispatchEvent(new MessageEvent('message', { data, origin: this.#origin }));
          this.#grant(cost);
          return;
        }
        case 'sent':
          this.#buffered = Math.max(0, this.#buffered - m.bytes);
          return;
        case 'close':
          this.#finish(m.code, m.reason, m.wasClean, m.error !== undefined);
          return;
        case 'hb':
          return;
      }
    }

    #grant(cost: number): void {
      this.#consumed += cost;
      const flush = () => {
        this.#creditTimer = undefined;
        if (this.#consumed > 0 && this.#state === OPEN)
          this.#post({ t: 'credit', bytes: this.#consumed });
        this.#consumed = 0;
      };
      if (this.#consumed >= CREDIT_BATCH) {
        clearTimeout(this.#creditTimer);
        flush();
      } else this.#creditTimer ??= setTimeout(flush, 0);
    }

    #finish(code: number, reason: string, wasClean: boolean, failed: boolean): void {
      if (this.#state === CLOSED) return;
      this.#state = CLOSED;
      clearInterval(this.#hbTimer);
      clearTimeout(this.#creditTimer);
      this.#port?.close();
      this.#port = null;
      track(this, null);
      if (failed) this.dispatchEvent(new Event('error'));
      this.dispatchEvent(new CloseEvent('close', { code, reason, wasClean }));
    }

    get url(): string {
      return this.#url;
    }
    get readyState(): number {
      return this.#state;
    }
    get bufferedAmount(): number {
      return this.#buffered;
    }
    get extensions(): string {
      return this.#extensions;
    }
    get protocol(): string {
      return this.#protocol;
    }
    get binaryType(): BinaryType {
      return this.#binaryType;
    }
    set binaryType(value: BinaryType) {
      // An enumerated attribute: other values are ignored.
      if (value === 'blob' || value === 'arraybuffer') this.#binaryType = value;
    }

    send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      // biome-ignore lint/complexity/noArguments: WebIDL counts arguments, not undefined ones
      if (arguments.length < 1) {
        throw new TypeError(
          `Failed to execute 'send' on 'WebSocket': 1 argument required, but only 0 present.`,
        );
      }
      if (this.#state === CONNECTING) {
        throw new NativeDOMException(
          `Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.`,
          'InvalidStateError',
        );
      }
      let payload: ArrayBuffer | string | Blob;
      let bytes: number;
      if (data instanceof ArrayBuffer) {
        payload = data.slice(0);
        bytes = payload.byteLength;
      } else if (ArrayBuffer.isView(data)) {
        payload = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice().buffer;
        bytes = payload.byteLength;
      } else if (data instanceof Blob) {
        payload = data;
        bytes = data.size;
      } else {
        // USVString: TextEncoder replaces lone surrogates as the WebIDL conversion does.
        const s = String(data);
        bytes = encoder.encode(s).length;
        payload = s;
      }
      this.#buffered += bytes;
      // Closing or closed: the data is not sent, but bufferedAmount still grows (the standard).
      if (this.#state !== OPEN) return;
      if (payload instanceof Blob) {
        const blob = payload;
        this.#sendQueue = this.#sendQueue.then(async () => {
          const buf = await blob.arrayBuffer();
          this.#post({ t: 'send', data: buf, bytes }, [buf]);
        });
      } else {
        const p = payload;
        this.#sendQueue = this.#sendQueue.then(() =>
          this.#post({ t: 'send', data: p, bytes }, typeof p === 'string' ? [] : [p]),
        );
      }
    }

    close(code?: number, reason?: string): void {
      let c: number | undefined;
      if (code !== undefined) {
        // WebIDL [Clamp] unsigned short.
        const n = Number(code);
        c = Number.isNaN(n) ? 0 : Math.min(65535, Math.max(0, Math.round(n)));
        if (c !== 1000 && (c < 3000 || c > 4999)) {
          throw new NativeDOMException(
            `Failed to execute 'close' on 'WebSocket': The close code must be either 1000, or between 3000 and 4999. ${c} is neither.`,
            'InvalidAccessError',
          );
        }
      }
      const r = reason === undefined ? '' : String(reason);
      if (encoder.encode(r).length > MAX_REASON_BYTES) {
        throw new NativeDOMException(
          `Failed to execute 'close' on 'WebSocket': The close reason must not be greater than ${MAX_REASON_BYTES} UTF-8 bytes.`,
          'SyntaxError',
        );
      }
      if (this.#state === CLOSING || this.#state === CLOSED) return;
      if (this.#state === CONNECTING) {
        // "Fail the WebSocket connection": error then close (1006), once the attempt is dropped.
        this.#state = CLOSING;
        this.#post({ t: 'close' });
        setTimeout(() => this.#finish(1006, '', false, true), 0);
        return;
      }
      this.#state = CLOSING;
      const msg: PageToSw = { t: 'close' };
      if (c !== undefined) {
        msg.code = c;
        msg.reason = r;
      }
      this.#sendQueue = this.#sendQueue.then(() => this.#post(msg));
    }

    /** Closes the socket as the page goes away (1001), as browsers do on unload. */
    #goAway(): void {
      if (this.#state === OPEN) {
        this.#state = CLOSING;
        this.#post({ t: 'close', code: 1001, reason: '' });
      }
    }

    #handler(type: string): EventListenerOrEventListenerObject | null {
      return this.#handlers.get(type) ?? null;
    }
    #setHandler(type: string, value: unknown): void {
      const v =
        typeof value === 'function' || (typeof value === 'object' && value !== null)
          ? (value as EventListenerOrEventListenerObject)
          : null;
      // Like an event handler attribute: one listener, registered when first set, calls the
      // current value.
      if (!this.#handlers.has(type)) {
        this.addEventListener(type, (e) => {
          const h = this.#handlers.get(type);
          if (typeof h === 'function') h.call(this, e);
        });
      }
      this.#handlers.set(type, v);
    }
    get onopen() {
      return this.#handler('open');
    }
    set onopen(v) {
      this.#setHandler('open', v);
    }
    get onmessage() {
      return this.#handler('message');
    }
    set onmessage(v) {
      this.#setHandler('message', v);
    }
    get onerror() {
      return this.#handler('error');
    }
    set onerror(v) {
      this.#setHandler('error', v);
    }
    get onclose() {
      return this.#handler('close');
    }
    set onclose(v) {
      this.#setHandler('close', v);
    }
  }

  // `instanceof WebSocket` and `Object.prototype.toString` keep working: the browser's prototype
  // is in the chain (it supplies the CONNECTING..CLOSED constants and Symbol.toStringTag), and the
  // browser's own sockets, returned for untunnelled URLs, are instances of the replacement.
  Object.setPrototypeOf(TunnelledWebSocket.prototype, Native.prototype);
  Object.defineProperty(TunnelledWebSocket, 'name', { value: 'WebSocket' });
  Object.defineProperty(TunnelledWebSocket, 'length', { value: 1 });
  Object.defineProperty(TunnelledWebSocket, Symbol.hasInstance, {
    value: (v: unknown) => v instanceof Native,
  });
  Object.defineProperty(TunnelledWebSocket, 'toString', {
    value: () => Function.prototype.toString.call(Native),
  });
  for (const [name, value] of [
    ['CONNECTING', CONNECTING],
    ['OPEN', OPEN],
    ['CLOSING', CLOSING],
    ['CLOSED', CLOSED],
  ] as const) {
    Object.defineProperty(TunnelledWebSocket, name, { value, enumerable: true });
  }
  // WebIDL attributes and operations are enumerable; class members are not by default.
  for (const key of Object.getOwnPropertyNames(TunnelledWebSocket.prototype)) {
    const d = Object.getOwnPropertyDescriptor(TunnelledWebSocket.prototype, key);
    if (d && key !== 'constructor') {
      Object.defineProperty(TunnelledWebSocket.prototype, key, { ...d, enumerable: true });
    }
  }

  win.addEventListener('pagehide', () => {
    for (const goAway of live.values()) goAway();
  });
  Object.defineProperty(win, 'WebSocket', {
    value: TunnelledWebSocket,
    writable: true,
    configurable: true,
    enumerable: false,
  });
  return TunnelledWebSocket as unknown as typeof WebSocket;
}
