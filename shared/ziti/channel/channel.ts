/**
 * A channel over any byte duplex (reference §2): sequence numbers, request/reply matching with
 * timeouts, latency probes, handlers per content type, and an orderly close that fails every pending
 * request with a typed error. `openChannel` (client) and `acceptChannel` (router) in `hello.ts`
 * perform the handshake and then hand the transport to a `Channel`.
 *
 * Concurrency contract: one read loop per channel dispatches messages one at a time, in wire order.
 * A handler that returns a promise stops the read loop until it settles: that is how a full edge
 * connection pushes back on the transport (see edge/connection.ts). Sends may be issued from
 * anywhere; frames are written whole, in call order.
 */
import type { ByteDuplex } from '../../streams/duplex.ts';
import {
  ZitiAuthenticationError,
  ZitiChannelClosedError,
  type ZitiError,
  ZitiHelloRejectedError,
  ZitiProtocolError,
  ZitiTimeoutError,
} from '../errors.ts';
import { encodeMessage, encodeMessageHead, type MessageDecoder } from './codec.ts';
import { ContentType, HeaderId } from './constants.ts';
import {
  getHeaderBool,
  getHeaderI32,
  getHeaderString,
  i32Bytes,
  type Message,
  newMessage,
  setHeaderBool,
  setHeaderU64,
} from './message.ts';

/** Default time a request waits for its reply. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
/** Edge SDKs probe latency about every 30 s (reference §2.5). */
export const DEFAULT_LATENCY_INTERVAL_MS = 30_000;
/** Bodies at least this large leave in a write of their own on a transport that copies writes. */
const SEPARATE_BODY_BYTES = 4096;

/** How and why a channel ended. `closed` resolves with this and never rejects. */
export interface ChannelCloseInfo {
  /** `local`: close() was called; `remote`: the peer ended the transport; `error`: see `error`. */
  initiator: 'local' | 'remote' | 'error';
  /**
   * The failure, if any. A remote close before anything but the hello Result arrived is reported
   * as `ZitiAuthenticationError` (reference §2.4.3).
   */
  error?: ZitiError | Error;
}

/** Handler of one content type. Returning a promise pauses reading until it settles. */
export type MessageHandler = (msg: Message) => void | Promise<void>;

export interface ChannelOptions {
  requestTimeoutMs?: number;
  /** 0 disables probes (the router side does not probe). */
  latencyIntervalMs?: number;
}

/** Internal construction parameters (the handshake already consumed the hello). */
export interface ChannelInit extends ChannelOptions {
  transport: ByteDuplex;
  reader: ReadableStreamDefaultReader<Uint8Array>;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  decoder: MessageDecoder;
  /** Messages decoded together with the hello that are not yet dispatched. */
  backlog: Message[];
  /** Router side: the ConnectionId its Result gave. Client side: taken from the Result. */
  connectionId?: string;
  peerHello?: Message;
  /**
   * Client side: the hello and anything sent behind it, written first, in order (the hello keeps
   * its sequence -1). The first message read must then be the hello's Result, within
   * `helloTimeoutMs`; `answered` settles with it.
   */
  hello?: { preamble: Message[]; helloTimeoutMs: number };
  /** The last sequence the handshake already sent (its reply is awaited with `replyTo`). */
  sequence?: number;
  /** Installs handlers before the first message is dispatched (messages sent behind the hello). */
  bind?: (channel: Channel) => void;
}

interface Pending {
  resolve: (msg: Message) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** An open channel; make one with `openChannel` or `acceptChannel`. */
export class Channel {
  /** The client's hello (router side only). */
  readonly peerHello: Message | undefined;
  readonly closed: Promise<ChannelCloseInfo>;
  /**
   * Client side: resolves once the router's Result accepted the hello; rejects (the channel
   * closed) if the router refuses it, closes, or does not answer in time. Requests may be sent
   * before: they go out behind the hello. Router side: resolved at once.
   */
  readonly answered: Promise<void>;
  /** Round-trip time of the last latency probe, in ms. */
  latencyMs: number | undefined;
  /** When `latencyMs` was measured (epoch ms). */
  latencyAt: number | undefined;

  readonly #requestTimeoutMs: number;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  /** The transport copies each write (TLS does): large bodies go out as writes of their own. */
  readonly #writesCopied: boolean;
  readonly #decoder: MessageDecoder;
  readonly #backlog: Message[];
  readonly #handlers = new Map<number, MessageHandler>();
  readonly #pending = new Map<number, Pending>();
  readonly #closeListeners = new Set<(info: ChannelCloseInfo) => void>();
  /** Last sequence sent; the first message after the hello is 1 (reference §2.3). */
  #sequence = 0;
  #closeInfo: ChannelCloseInfo | undefined;
  #resolveClosed!: (info: ChannelCloseInfo) => void;
  #receivedSinceHello = 0;
  #lastReadAt = Date.now();
  #latencyTimer: ReturnType<typeof setInterval> | undefined;
  #connectionId: string;
  #helloResult: Message | undefined;
  /** Client side, until the hello's Result arrives: settles `answered`. */
  #awaitingHello:
    | { resolve: () => void; reject: (err: Error) => void; timer: ReturnType<typeof setTimeout> }
    | undefined;

  constructor(init: ChannelInit) {
    this.#connectionId = init.connectionId ?? '';
    this.peerHello = init.peerHello;
    this.#requestTimeoutMs = init.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#reader = init.reader;
    this.#writer = init.writer;
    this.#writesCopied = init.transport.writesCopied === true;
    this.#decoder = init.decoder;
    this.#backlog = init.backlog;
    this.#sequence = init.sequence ?? 0;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.answered = new Promise((resolve, reject) => {
      if (!init.hello) return resolve();
      const { helloTimeoutMs } = init.hello;
      const timer = setTimeout(
        () => this.#fail(new ZitiTimeoutError(`hello result timed out after ${helloTimeoutMs} ms`)),
        helloTimeoutMs,
      );
      this.#awaitingHello = { resolve, reject, timer };
    });
    this.answered.catch(() => {}); // a refusal is reported to whoever awaits it, and on `closed`
    for (const msg of init.hello?.preamble ?? []) this.#write(msg).catch(() => {});
    const interval = init.latencyIntervalMs ?? DEFAULT_LATENCY_INTERVAL_MS;
    if (interval > 0) this.#latencyTimer = setInterval(() => void this.measureLatency(), interval);
    init.bind?.(this);
    void this.#readLoop();
  }

  /** ConnectionId (header 0) of the hello Result: the router's name for this channel. */
  get connectionId(): string {
    return this.#connectionId;
  }

  /** The router's hello Result (client side, once `answered`). */
  get helloResult(): Message | undefined {
    return this.#helloResult;
  }

  get isClosed(): boolean {
    return this.#closeInfo !== undefined;
  }

  /** Requests waiting for a reply (for tests and diagnostics). */
  get pendingRequests(): number {
    return this.#pending.size;
  }

  /**
   * Installs the handler for one content type (one per type). Returns a function that removes it.
   * Replies to our own requests never reach handlers; Latency is answered by the channel itself.
   */
  handle(contentType: number, handler: MessageHandler): () => void {
    if (this.#handlers.has(contentType)) {
      throw new Error(`content type ${contentType} already has a handler`);
    }
    this.#handlers.set(contentType, handler);
    return () => {
      if (this.#handlers.get(contentType) === handler) this.#handlers.delete(contentType);
    };
  }

  /** Calls `listener` once when the channel closes (synchronously, before `closed` resolves). */
  onClose(listener: (info: ChannelCloseInfo) => void): () => void {
    if (this.#closeInfo) {
      listener(this.#closeInfo);
      return () => {};
    }
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /**
   * Sends a message with the channel's next sequence (the message object is not changed).
   * Resolves once the transport accepted the frame, its body copied (so the caller may reuse the
   * body's buffer); rejects with ZitiChannelClosedError.
   */
  async send(msg: Message): Promise<void> {
    await this.#write({ ...msg, sequence: this.#takeSequence() });
  }

  /** Sends `msg` as a reply to `request`: ReplyFor = its sequence, Reflected header copied. */
  async reply(request: Message, msg: Message): Promise<void> {
    const headers = new Map(msg.headers);
    headers.set(HeaderId.ReplyFor, i32Bytes(request.sequence));
    const reflected = request.headers.get(HeaderId.Reflected);
    if (reflected && !headers.has(HeaderId.Reflected)) headers.set(HeaderId.Reflected, reflected);
    await this.send({ ...msg, headers });
  }

  /** Sends `msg` and waits for the message whose ReplyFor is its sequence. */
  request(msg: Message, timeoutMs = this.#requestTimeoutMs): Promise<Message> {
    if (this.#closeInfo) return Promise.reject(this.#closedError());
    const sequence = this.#takeSequence();
    const reply = this.replyTo(sequence, timeoutMs, `message ${msg.contentType}`);
    this.#write({ ...msg, sequence }).catch((err: Error) => {
      const p = this.#pending.get(sequence);
      if (p) {
        this.#pending.delete(sequence);
        clearTimeout(p.timer);
        p.reject(err);
      }
    });
    return reply;
  }

  /**
   * Waits for the reply to a message already sent with `sequence`: one of `request`'s, or the
   * message the handshake sent before this channel existed (`ChannelInit.sequence`). Call it
   * before yielding to the event loop, or a reply already received is dispatched unclaimed.
   */
  replyTo(
    sequence: number,
    timeoutMs = this.#requestTimeoutMs,
    what = 'the message',
  ): Promise<Message> {
    if (this.#closeInfo) return Promise.reject(this.#closedError());
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(sequence);
        reject(new ZitiTimeoutError(`no reply to ${what} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(sequence, { resolve, reject, timer });
    });
  }

  /** Closes the channel: pending requests fail, the transport is closed. Idempotent. */
  async close(reason = 'closed locally'): Promise<void> {
    if (!this.#closeInfo) {
      this.#terminate({ initiator: 'local' }, reason);
      // Not awaited: frames already queued are still flushed, but a peer that stopped reading
      // must not keep close() from returning.
      void this.#writer
        .close()
        .catch(() => {})
        .then(() => this.#reader.cancel())
        .catch(() => {});
    }
    await this.closed;
  }

  #takeSequence(): number {
    // Increment first, as a Go channel's sequence does; OpenZiti's browser client relies on the
    // router's numbering starting at 1. Wraps past int32 max back to 1 (never -1, the hello's).
    this.#sequence = this.#sequence === 0x7fffffff ? 1 : this.#sequence + 1;
    return this.#sequence;
  }

  async #write(msg: Message): Promise<void> {
    if (this.#closeInfo) throw this.#closedError();
    try {
      if (this.#writesCopied && msg.body.length >= SEPARATE_BODY_BYTES) {
        // Both writes are queued at once, so no other frame comes between them. The transport
        // copies the body where a whole frame would have had a new buffer filled: in browsers
        // filling new memory costs as much again as copying into memory already used.
        this.#writer.write(encodeMessageHead(msg)).catch(() => {}); // fails the body's write too
        await this.#writer.write(msg.body);
      } else {
        await this.#writer.write(encodeMessage(msg));
      }
    } catch (cause) {
      const err = new ZitiChannelClosedError('channel transport failed on write', { cause });
      this.#fail(err);
      throw err;
    }
  }

  async #readLoop(): Promise<void> {
    try {
      for (;;) {
        const msg = await this.#readMessage();
        if (this.#closeInfo) return;
        if (this.#awaitingHello) {
          this.#takeHelloResult(msg);
          continue;
        }
        if (!msg) {
          const error =
            this.#receivedSinceHello === 0 && this.helloResult
              ? new ZitiAuthenticationError(
                  'router closed the channel right after the hello: API session or certificate rejected',
                )
              : undefined;
          this.#terminate({ initiator: error ? 'error' : 'remote', error }, 'closed by peer');
          this.#writer.close().catch(() => {});
          return;
        }
        this.#receivedSinceHello++;
        await this.#dispatch(msg);
      }
    } catch (err) {
      this.#fail(err as Error);
    }
  }

  /** The first message a client reads: the hello's Result, or the reason the channel fails. */
  #takeHelloResult(msg: Message | undefined): void {
    const waiting = this.#awaitingHello!;
    if (!msg) throw new ZitiChannelClosedError('router closed the transport during the hello');
    if (msg.contentType !== ContentType.Result) {
      throw new ZitiProtocolError(
        'unexpected-message',
        `expected the hello Result, got content type ${msg.contentType}`,
      );
    }
    if (getHeaderBool(msg, HeaderId.ResultSuccess) !== true) {
      const text = new TextDecoder().decode(msg.body) || 'hello rejected';
      throw new ZitiHelloRejectedError(text, getHeaderString(msg, HeaderId.HelloRejectClass));
    }
    this.#awaitingHello = undefined;
    clearTimeout(waiting.timer);
    this.#helloResult = msg;
    this.#connectionId = getHeaderString(msg, HeaderId.ConnectionId) ?? '';
    waiting.resolve();
  }

  async #readMessage(): Promise<Message | undefined> {
    while (this.#backlog.length === 0) {
      const { value, done } = await this.#reader.read();
      if (done) return undefined;
      this.#lastReadAt = Date.now();
      for (const m of this.#decoder.push(value)) this.#backlog.push(m);
    }
    return this.#backlog.shift();
  }

  async #dispatch(msg: Message): Promise<void> {
    const replyTo = replyForOf(msg);
    if (replyTo !== undefined) {
      const pending = this.#pending.get(replyTo);
      if (pending) {
        this.#pending.delete(replyTo);
        clearTimeout(pending.timer);
        pending.resolve(msg);
        return;
      }
    }
    if (msg.contentType === ContentType.Latency) {
      // channel latency/latency.go: Result success, ReplyFor, header 128 echoed.
      const result = newMessage(ContentType.Result);
      setHeaderBool(result, HeaderId.ResultSuccess, true);
      await this.reply(msg, result).catch(() => {});
      return;
    }
    const handler = this.#handlers.get(msg.contentType);
    if (handler) await handler(msg);
    // Other unsolicited messages are dropped, as the Go channel does for unknown content types.
  }

  /**
   * Sends one latency probe now (the timer sends one every interval) and records its round trip in
   * `latencyMs`. Resolves when answered or failed; a probe nobody answers while nothing else
   * arrives closes the channel, as the timer's would.
   */
  async measureLatency(): Promise<void> {
    if (this.#closeInfo) return;
    const sentAt = Date.now();
    const probe = newMessage(ContentType.Latency);
    setHeaderU64(probe, HeaderId.Reflected, BigInt(sentAt) * 1_000_000n);
    try {
      await this.request(probe);
      this.recordLatency(Date.now() - sentAt);
    } catch (err) {
      // As the Go SDK: close on probe timeout only if nothing was read since the probe.
      if (err instanceof ZitiTimeoutError && this.#lastReadAt <= sentAt) {
        this.#fail(new ZitiTimeoutError('latency probe unanswered: router unresponsive'));
      }
    }
  }

  /** Records a measured round trip (also the handshake's probe, see hello.ts). */
  recordLatency(ms: number, at = Date.now()): void {
    this.latencyMs = ms;
    this.latencyAt = at;
  }

  #fail(error: Error): void {
    if (this.#closeInfo) return;
    this.#terminate({ initiator: 'error', error }, error.message);
    this.#writer.abort(error).catch(() => {});
    this.#reader.cancel(error).catch(() => {});
  }

  #terminate(info: ChannelCloseInfo, reason: string): void {
    if (this.#closeInfo) return;
    this.#closeInfo = info;
    if (this.#latencyTimer !== undefined) clearInterval(this.#latencyTimer);
    const err = this.#closedError(reason);
    if (this.#awaitingHello) {
      clearTimeout(this.#awaitingHello.timer);
      this.#awaitingHello.reject(info.error ?? err);
      this.#awaitingHello = undefined;
    }
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.#pending.clear();
    for (const listener of this.#closeListeners) listener(info);
    this.#closeListeners.clear();
    this.#resolveClosed(info);
  }

  #closedError(reason?: string): ZitiChannelClosedError {
    const info = this.#closeInfo;
    const cause = info?.error;
    const text = reason ?? cause?.message ?? 'channel closed';
    return new ZitiChannelClosedError(`channel ${this.connectionId} closed: ${text}`, { cause });
  }
}

/** ReplyFor, or undefined when absent or malformed (as Go's header getters: not a reply). */
function replyForOf(msg: Message): number | undefined {
  const v = msg.headers.get(HeaderId.ReplyFor);
  return v?.length === 4 ? getHeaderI32(msg, HeaderId.ReplyFor) : undefined;
}
