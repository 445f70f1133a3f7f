/**
 * A client WebSocket connection (RFC 6455) over any `ByteDuplex`, typically the stream that
 * `HttpConnection.upgrade()` returned after a 101.
 *
 * Receiving is pulled: bytes are read from the duplex only while `messages` has demand (or while a
 * close handshake runs), so a slow consumer pushes back on the transport instead of buffering. The
 * cost: pings are answered only when the consumer reads. Ping -> pong is automatic, fragmented
 * messages are reassembled, and a peer's protocol error closes with 1002/1007/1009 and then drops
 * the transport (reported as 1006, wasClean false, as browsers do when they fail a connection).
 *
 * Sending: each `send()` resolves once its frames were accepted by the duplex; frames of different
 * calls never interleave. Messages larger than `fragmentSize` go out as several frames.
 */
import type { ByteDuplex } from '../streams/duplex.ts';
import {
  CloseCode,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_FRAGMENT_SIZE,
  Opcode,
  type OpcodeValue,
} from './constants.ts';
import { WebSocketClosedError, WebSocketError, WebSocketProtocolError } from './errors.ts';
import { encodeClosePayload, encodeFrame } from './frame.ts';
import { type DecodedEvent, FrameDecoder } from './frame-decoder.ts';

export type WebSocketMessage =
  | { type: 'text'; data: string }
  | { type: 'binary'; data: Uint8Array };

export interface WebSocketCloseInfo {
  /** The peer's code (1005 if its close frame had none); 1006 if the connection just ended or failed. */
  code: number;
  reason: string;
  /** A close frame was both sent and received. */
  wasClean: boolean;
  /** Why the connection failed, when it did. */
  error?: WebSocketError;
}

export interface WebSocketClientConnectionOptions {
  /** Negotiated subprotocol, from the handshake (exposed as-is). */
  protocol?: string;
  extensions?: string;
  /** Largest received message; default 64 MiB. */
  maxMessageSize?: number;
  /** Outgoing messages are split into frames of at most this many bytes; default 1 MiB. */
  fragmentSize?: number;
  /** Close handshake limit before the transport is dropped; default 5 s. */
  closeTimeoutMs?: number;
  /** Mask key source; default 4 random bytes per frame (§5.3). Tests pass a fixed key. */
  maskKey?: () => Uint8Array;
  /** Bytes of whole messages buffered ahead of the consumer; default 0 (read only on demand). */
  receiveHighWaterMark?: number;
  /** Called with the payload of each pong received. */
  onPong?: (data: Uint8Array) => void;
}

type Closable = ByteDuplex & { close?(): void };
export type WebSocketConnectionState = 'open' | 'closing' | 'closed';

const encoder = new TextEncoder();
const randomMask = () => crypto.getRandomValues(new Uint8Array(4));

export class WebSocketClientConnection {
  readonly protocol: string;
  readonly extensions: string;
  /** Received data messages, in order. Ends when the connection closes (see `closed`). */
  readonly messages: ReadableStream<WebSocketMessage>;
  /** Resolves once, when the connection is fully closed. Never rejects. */
  readonly closed: Promise<WebSocketCloseInfo>;

  readonly #duplex: Closable;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #decoder: FrameDecoder;
  readonly #fragmentSize: number;
  readonly #closeTimeoutMs: number;
  readonly #maskKey: () => Uint8Array;
  readonly #onPong: ((data: Uint8Array) => void) | undefined;
  #controller!: ReadableStreamDefaultController<WebSocketMessage>;
  #resolveClosed!: (info: WebSocketCloseInfo) => void;
  #state: WebSocketConnectionState = 'open';
  #closeSent = false;
  #peerClose: { code: number; reason: string } | null = null;
  #writeChain: Promise<void> = Promise.resolve();
  #readChain: Promise<unknown> = Promise.resolve();
  #buffered = 0;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #draining = false;
  #failure: WebSocketProtocolError | null = null;

  constructor(duplex: Closable, options: WebSocketClientConnectionOptions = {}) {
    this.protocol = options.protocol ?? '';
    this.extensions = options.extensions ?? '';
    this.#duplex = duplex;
    this.#reader = duplex.readable.getReader();
    this.#writer = duplex.writable.getWriter();
    this.#decoder = new FrameDecoder({ role: 'client', maxMessageSize: options.maxMessageSize });
    this.#fragmentSize = options.fragmentSize ?? DEFAULT_FRAGMENT_SIZE;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.#maskKey = options.maskKey ?? randomMask;
    this.#onPong = options.onPong;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.messages = new ReadableStream<WebSocketMessage>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: async (controller) => {
          const before = controller.desiredSize ?? 0;
          while (this.#state !== 'closed' && (controller.desiredSize ?? 0) >= before) {
            if (!(await this.#readOnce())) break;
          }
        },
        cancel: () => {
          if (this.#state === 'open') void this.close(CloseCode.GoingAway);
        },
      },
      {
        highWaterMark: options.receiveHighWaterMark ?? 0,
        size: (m) => (m.type === 'text' ? m.data.length : m.data.byteLength) || 1,
      },
    );
  }

  get readyState(): WebSocketConnectionState {
    return this.#state;
  }

  /** Payload bytes passed to `send()` that the duplex has not accepted yet. */
  get bufferedAmount(): number {
    return this.#buffered;
  }

  /** Sends one text (string) or binary message; resolves when the duplex accepted all of it. */
  send(data: string | Uint8Array): Promise<void> {
    if (this.#state !== 'open' || this.#closeSent) {
      return Promise.reject(new WebSocketClosedError());
    }
    const text = typeof data === 'string';
    const payload = text ? encoder.encode(data) : data;
    this.#buffered += payload.length;
    return this.#write(async (write) => {
      let opcode: OpcodeValue = text ? Opcode.Text : Opcode.Binary;
      let off = 0;
      do {
        const end = Math.min(payload.length, off + this.#fragmentSize);
        const fin = end === payload.length;
        await write(
          encodeFrame({
            opcode,
            fin,
            payload: payload.subarray(off, end),
            maskKey: this.#maskKey(),
          }),
        );
        this.#buffered -= end - off;
        off = end;
        opcode = Opcode.Continuation;
      } while (off < payload.length);
    });
  }

  /** Sends a ping (at most 125 bytes). */
  ping(data: Uint8Array = new Uint8Array(0)): Promise<void> {
    if (this.#state !== 'open' || this.#closeSent) {
      return Promise.reject(new WebSocketClosedError());
    }
    return this.#control(Opcode.Ping, data);
  }

  /**
   * Starts the close handshake (code 1000-1003, 1007-1014 or 3000-4999, reason <= 123 UTF-8 bytes)
   * and resolves when it ends. Harmless to repeat.
   */
  close(code?: number, reason = ''): Promise<WebSocketCloseInfo> {
    if (this.#state === 'open') {
      const payload = encodeClosePayload(code, reason);
      this.#state = 'closing';
      this.#sendClose(payload);
      this.#armCloseTimer();
      void this.#drain();
    }
    return this.closed;
  }

  /** Drops the transport without a handshake; `closed` reports 1006. */
  terminate(): void {
    this.#finish({ code: CloseCode.Abnormal, reason: '', wasClean: false });
  }

  #write(job: (write: (b: Uint8Array) => Promise<void>) => Promise<void>): Promise<void> {
    const write = (b: Uint8Array) => this.#writer.write(b);
    const p = this.#writeChain.then(() => job(write));
    this.#writeChain = p.catch((e: unknown) => {
      if (this.#state !== 'closed') {
        this.#finish({
          code: CloseCode.Abnormal,
          reason: '',
          wasClean: false,
          error: new WebSocketError('ERR_WS_CLOSED', 'transport failed while sending', {
            cause: e,
          }),
        });
      }
    });
    return p;
  }

  #control(opcode: OpcodeValue, payload: Uint8Array): Promise<void> {
    return this.#write((write) =>
      write(encodeFrame({ opcode, payload, maskKey: this.#maskKey() })),
    );
  }

  #sendClose(payload: Uint8Array): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    // Nothing follows a close frame (§5.5.1). No half-close after it: some transports (a WebSocket
    // relay) have none and would end the whole stream before the peer's close frame came back.
    void this.#control(Opcode.Close, payload).catch(() => {});
  }

  #armCloseTimer(): void {
    this.#closeTimer ??= setTimeout(() => {
      const failed = this.#failure ?? undefined;
      this.#finish({
        code: (!failed && this.#peerClose?.code) || CloseCode.Abnormal,
        reason: (!failed && this.#peerClose?.reason) || '',
        wasClean: false,
        ...(failed ? { error: failed } : {}),
      });
    }, this.#closeTimeoutMs);
  }

  /** While closing, read (and drop data) until the peer's close frame and end of stream. */
  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    while (this.#state !== 'closed') {
      if (!(await this.#readOnce())) break;
    }
  }

  /** Reads one chunk and handles what it completes. False once nothing more will come. */
  #readOnce(): Promise<boolean> {
    const p = this.#readChain.then(async () => {
      if (this.#state === 'closed') return false;
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await this.#reader.read();
      } catch (e) {
        this.#finish({
          code: CloseCode.Abnormal,
          reason: '',
          wasClean: false,
          error: new WebSocketError('ERR_WS_CLOSED', 'transport failed', { cause: e }),
        });
        return false;
      }
      if (this.#isClosed()) return false;
      if (r.done) {
        this.#onEnd();
        return false;
      }
      // After a protocol error the rest of the stream is discarded until the peer closes it.
      if (this.#failure) return true;
      let events: DecodedEvent[];
      try {
        events = this.#decoder.push(r.value);
      } catch (e) {
        if (e instanceof WebSocketProtocolError) this.#fail(e);
        else throw e;
        return false;
      }
      for (const ev of events) this.#handle(ev);
      return !this.#isClosed();
    });
    this.#readChain = p.catch(() => {});
    return p;
  }

  /** A method, so TypeScript does not keep a narrowing of `#state` across awaits. */
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #handle(ev: DecodedEvent): void {
    switch (ev.type) {
      case 'text':
      case 'binary':
        // After our close frame, data is dropped (WHATWG: messages arrive only while OPEN).
        if (this.#state === 'open') this.#controller.enqueue(ev);
        return;
      case 'ping':
        if (!this.#closeSent) void this.#control(Opcode.Pong, ev.data).catch(() => {});
        return;
      case 'pong':
        this.#onPong?.(ev.data);
        return;
      case 'close': {
        this.#peerClose = { code: ev.code ?? CloseCode.NoStatus, reason: ev.reason };
        if (this.#closeSent) {
          // Our close was answered: the handshake is complete (§7.1.1: the server closes TCP first,
          // but we need not wait for it).
          this.#finish({ ...this.#peerClose, wasClean: true });
          return;
        }
        this.#state = 'closing';
        this.#closeMessages();
        // §5.5.1: echo the status code; §7.1.1: then wait for the server to end the stream, so
        // our close frame is not lost to an early teardown.
        this.#sendClose(encodeClosePayload(ev.code));
        this.#armCloseTimer();
        void this.#drain();
        return;
      }
    }
  }

  #onEnd(): void {
    // The stream ended: clean only if the close handshake had already happened both ways.
    if (this.#failure) {
      this.#finish({ code: CloseCode.Abnormal, reason: '', wasClean: false, error: this.#failure });
    } else if (this.#peerClose && this.#closeSent)
      this.#finish({ ...this.#peerClose, wasClean: true });
    else this.#finish({ code: CloseCode.Abnormal, reason: '', wasClean: false });
  }

  #fail(error: WebSocketProtocolError): void {
    // ws's receiverOnError: stop decoding, send the close with the error's status, report once
    // when the peer has ended the stream (or the close timeout passed).
    this.#failure = error;
    this.#state = 'closing';
    this.#closeMessages();
    this.#sendClose(encodeClosePayload(error.closeCode));
    this.#armCloseTimer();
    void this.#drain();
  }

  #closeMessages(): void {
    try {
      this.#controller.close();
    } catch {
      // already closed
    }
  }

  #finish(info: WebSocketCloseInfo): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#closeTimer);
    this.#closeMessages();
    this.#reader.cancel().catch(() => {});
    this.#writer.abort().catch(() => {});
    this.#duplex.close?.();
    this.#resolveClosed(info);
  }
}
