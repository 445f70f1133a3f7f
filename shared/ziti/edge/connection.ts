/**
 * One edge connection over a channel (reference §3.4, §4): Web Streams both ways, per-connection
 * Seq, FIN half-close, StateClosed full close, optional end-to-end encryption.
 *
 * State it owns: the E2E encryptor/decryptor (the peer's first Data must be its 24-byte header),
 * multipart splitting (after decryption), the FIN flags of both directions, Data received before the
 * connection is established (the far side's first Data, even its StateClosed, can follow
 * StateConnected at once).
 *
 * Backpressure policy (receive side). The V1 edge protocol has no per-connection flow control, so
 * the only way to slow a sender is to stop reading the channel transport. Each connection has a
 * receive window (`receiveWindowBytes`, default 1 MiB): decrypted bytes wait in the readable's
 * queue; once the queue reaches the window, the handler returns a promise that settles only when
 * the reader pulls again, which stops the channel's read loop. This pauses every connection on the
 * channel (the real SDKs do the same) but loses nothing, and lets TCP / WebSocket backpressure reach
 * the sender. Memory per connection stays under window + one Data frame.
 *
 * Send side: a write resolves once every Data frame of the chunk was accepted by the channel
 * transport; chunks are cut to at most 32 KiB of body.
 *
 * SDK flow control (`UseXgressToSdk` granted in StateConnected): the bytes travel as xgress
 * payloads instead of Data (`../xgress/endpoint.ts`). The receiver's buffer (out-of-order payloads
 * plus the readable's queue) goes back to the far end in every acknowledgement, and the far end
 * stops sending past its window, so nothing ever pauses the channel and the queue stays near 4 MiB
 * whatever the receive policy. FIN travels as the payload's edge-flags header; `closeWrite()` then
 * sends EOF, as sdk-golang does. The connection's end is an XgClose to the router, sent once every
 * payload we sent was acknowledged (at most `XG_CLOSE_FLUSH_MS` later).
 */
import type { Channel, ChannelCloseInfo } from '../channel/channel.ts';
import { ContentType, EdgeFlag, MAX_DATA_BODY_BYTES } from '../channel/constants.ts';
import { bodyParts, joinPieces, type Message, u32Bytes } from '../channel/message.ts';
import {
  SECRETSTREAM_ABYTES,
  SecretStreamDecryptor,
  SecretStreamEncryptor,
  type SessionKeys,
} from '../e2e/sodium.ts';
import {
  ZitiChannelClosedError,
  ZitiConnectionClosedError,
  type ZitiError,
  ZitiProtocolError,
} from '../errors.ts';
import { XgressEndpoint, type XgressOptions } from '../xgress/endpoint.ts';
import {
  decodeAck,
  decodePayload,
  edgeFlagsOf,
  encodeXgClose,
  PAYLOAD_EDGE_FLAGS_KEY,
  PayloadFlag,
  type XgPayload,
} from '../xgress/messages.ts';
import {
  decodeData,
  decodeStateClosed,
  encodeData,
  encodeStateClosed,
  splitMultipart,
  type XgressGrant,
} from './messages.ts';
import type { EdgeMux, EdgeSink } from './mux.ts';
import type { EdgeCloseInfo, EdgeConnection, ReceiveOverflowPolicy } from './types.ts';

/** Default per-connection receive window. */
export const DEFAULT_RECEIVE_WINDOW_BYTES = 1024 * 1024;

/** How long a closing flow-controlled connection waits for its last payloads to be acknowledged. */
export const XG_CLOSE_FLUSH_MS = 5_000;

export interface EdgeConnectionInit {
  connId: number;
  receiveWindowBytes?: number;
  receiveOverflow?: ReceiveOverflowPolicy;
  appData?: Uint8Array;
  callerId?: string;
  circuitId?: string;
}

/** The implementation behind `EdgeConnection`; made by dialService / bindService / acceptConnect. */
export class EdgeConnectionImpl implements EdgeConnection, EdgeSink {
  readonly connId: number;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly closed: Promise<EdgeCloseInfo>;
  readonly appData: Uint8Array | undefined;
  readonly callerId: string | undefined;
  circuitId: string | undefined;
  encrypted = false;
  /** Statistics: incremented where the bytes already pass, nothing else. */
  bytesIn = 0;
  bytesOut = 0;

  readonly #channel: Channel;
  readonly #mux: EdgeMux;
  readonly #window: number;
  readonly #overflow: ReceiveOverflowPolicy;
  /** The limit `capBacklog` set, when it did. */
  #cap: number | undefined;
  #readController!: ReadableStreamDefaultController<Uint8Array>;
  #writeController!: WritableStreamDefaultController;
  #drainWaiters: (() => void)[] = [];
  #readEnded = false;
  #established = false;
  #early: Message[] = [];
  #earlyBytes = 0;
  #earlyWaiters: (() => void)[] = [];
  #encryptor: SecretStreamEncryptor | undefined;
  #decryptor: SecretStreamDecryptor | undefined;
  #rx: Uint8Array | undefined;
  #nextSeq = 1;
  #inflight: Promise<void> = Promise.resolve();
  #fin: Promise<void> | undefined;
  #finReceived = false;
  /** Set when the router granted SDK flow control: payloads instead of Data. */
  #xg: XgressEndpoint | undefined;
  /** The XgClose is on its way (sent after the last acknowledgement). */
  #xgClosing = false;
  /** A failure to report once the reader has taken the data that arrived before it. */
  #deferredError: Error | undefined;
  #closeInfo: EdgeCloseInfo | undefined;
  #resolveClosed!: (info: EdgeCloseInfo) => void;

  constructor(channel: Channel, mux: EdgeMux, init: EdgeConnectionInit) {
    this.#channel = channel;
    this.#mux = mux;
    this.connId = init.connId;
    this.appData = init.appData;
    this.callerId = init.callerId;
    this.circuitId = init.circuitId;
    this.#window = init.receiveWindowBytes ?? DEFAULT_RECEIVE_WINDOW_BYTES;
    this.#overflow = init.receiveOverflow ?? 'pause';
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#readController = c;
        },
        pull: () => {
          if (this.#deferredError && this.queuedBytes === 0) {
            this.#readController.error(this.#deferredError);
            return;
          }
          this.#releaseDrain();
          this.#xg?.readerProgress();
        },
        cancel: () => {
          this.#readEnded = true;
          this.#releaseDrain();
          // Nothing is buffered for a reader any more: a held acknowledgement must go.
          this.#xg?.readerProgress();
        },
      },
      { highWaterMark: this.#window, size: (chunk) => chunk.byteLength },
    );
    this.writable = new WritableStream<Uint8Array>({
      start: (c) => {
        this.#writeController = c;
      },
      write: (chunk) => this.#write(chunk),
      close: () => this.closeWrite(),
      abort: (reason) => this.close(reason instanceof Error ? reason.message : String(reason)),
    });
    mux.register(this.connId, this);
  }

  /** True when the router granted SDK flow control (xgress payloads, windows, acknowledgements). */
  get flowControlled(): boolean {
    return this.#xg !== undefined;
  }

  /** The flow-control endpoint's counters, for status pages and tests. */
  get flowStats(): { retransmits: number; duplicates: number; held: number } | undefined {
    const xg = this.#xg;
    return xg && { retransmits: xg.retransmits, duplicates: xg.duplicates, held: xg.held };
  }

  /**
   * Closes the connection once more than `bytes` wait unread (the reader still gets them, then
   * the error), whatever the receive policy; `undefined` restores the policy's own limit. Not for
   * flow-controlled connections, whose windows already bound the queue.
   */
  capBacklog(bytes: number | undefined): void {
    this.#cap = bytes;
  }

  /** Bytes waiting in the readable's queue (meaningful while the readable is open). */
  get queuedBytes(): number {
    return Math.max(0, this.#window - (this.#readController.desiredSize ?? this.#window));
  }

  /**
   * Marks the connection usable: sets up E2E from `keys` (sending our header as the first Data,
   * alone), then processes Data that arrived early.
   */
  async establish(
    keys: SessionKeys | undefined,
    circuitId?: string,
    xgress?: XgressGrant,
    xgressOptions?: XgressOptions,
  ): Promise<void> {
    if (circuitId !== undefined) this.circuitId = circuitId;
    if (xgress) {
      if (this.circuitId === undefined) {
        throw new ZitiProtocolError('missing-header', 'flow control granted without a CircuitId');
      }
      this.#xg = new XgressEndpoint({
        circuitId: this.circuitId,
        originator: 'initiator',
        connId: this.connId,
        send: (msg) => this.#channel.send(msg),
        deliver: (payload) => this.#onPayload(payload),
        pendingBytes: () => (this.#readEnded ? 0 : this.queuedBytes),
        onError: (err) => this.#fail(err),
        options: xgressOptions,
      });
      await this.#xg.start();
    }
    if (keys) {
      if (this.#closeInfo) throw new ZitiConnectionClosedError('connection is closed');
      this.encrypted = true;
      this.#rx = keys.rx;
      this.#encryptor = new SecretStreamEncryptor(keys.tx);
      await this.#sendData(this.#encryptor.header, 0);
    }
    this.#established = true;
    const early = this.#early;
    this.#early = [];
    // Not awaited for backpressure: the caller must get the connection to start reading.
    for (const msg of early) {
      if (msg.contentType === ContentType.StateClosed) this.#onStateClosed(msg);
      else this.#onData(msg);
    }
    this.#releaseEarly();
  }

  /** Lets the channel read on (early data past the window waits for establish() or the end). */
  #releaseEarly(): void {
    const waiters = this.#earlyWaiters;
    this.#earlyWaiters = [];
    for (const w of waiters) w();
  }

  onMessage(msg: Message): void | Promise<void> {
    const ct = msg.contentType;
    if (ct === ContentType.XgAcknowledgement && this.#xg) {
      // Still taken after the connection ended: its last payloads may await acknowledgement.
      try {
        this.#xg.onAck(decodeAck(msg));
      } catch (err) {
        this.#fail(err as Error);
      }
      return;
    }
    if (this.#closeInfo) return;
    if (ct === ContentType.StateClosed) {
      // A peer that writes and closes at once may close before establish() ran (the session keys
      // are still being derived): the close waits behind the data that came before it.
      if (this.#established) this.#onStateClosed(msg);
      else this.#early.push(msg);
      return;
    }
    if (ct !== ContentType.Data && ct !== ContentType.XgPayload) return;
    if (!this.#established) {
      this.#earlyBytes += msg.body.length;
      this.#early.push(msg);
      // The far side may write at once, while our session keys are still being derived. Past the
      // receive window the channel stops reading until they are ready (backpressure, as for a
      // full connection) rather than hold more or fail a connection nobody could read yet.
      if (this.#earlyBytes > this.#window)
        return new Promise<void>((resolve) => this.#earlyWaiters.push(resolve));
      return;
    }
    return this.#onData(msg);
  }

  onChannelClosed(info: ChannelCloseInfo): void {
    const error = new ZitiChannelClosedError('channel closed', { cause: info.error });
    this.#finish({ initiator: 'channel', reason: 'channel closed', error }, error, true);
  }

  closeWrite(): Promise<void> {
    this.#fin ??= (async () => {
      await this.#inflight.catch(() => {});
      if (this.#closeInfo) return;
      await this.#sendData(new Uint8Array(0), EdgeFlag.FIN);
      this.#maybeDone();
    })();
    return this.#fin;
  }

  async close(reason = 'closed'): Promise<void> {
    if (!this.#closeInfo) {
      this.#sendStateClosed(reason);
      const error = new ZitiConnectionClosedError(
        `connection ${this.connId} closed locally: ${reason}`,
      );
      this.#finish({ initiator: 'local', reason }, error);
    }
    await this.closed;
  }

  /** Ends the connection without telling the router (it never existed there, or is gone). */
  abandon(error: ZitiError): void {
    this.#finish({ initiator: 'error', reason: error.message, error }, error);
  }

  #onData(msg: Message): void | Promise<void> {
    if (msg.contentType === ContentType.XgPayload) {
      if (!this.#xg) {
        this.#fail(
          new ZitiProtocolError('unexpected-message', 'xgress payload without flow control'),
        );
        return;
      }
      try {
        this.#xg.onPayload(decodePayload(msg));
      } catch (err) {
        this.#fail(err as Error);
      }
      return;
    }
    if (this.#xg) {
      this.#fail(
        new ZitiProtocolError('unexpected-message', 'Data on a flow-controlled connection'),
      );
      return;
    }
    let data: ReturnType<typeof decodeData>;
    try {
      data = decodeData(msg);
    } catch (err) {
      this.#fail(err as Error);
      return;
    }
    return this.#onBody(bodyParts(msg), data.flags);
  }

  /** One in-order payload of a flow-controlled connection; end flags end the reading side. */
  #onPayload(payload: XgPayload): void {
    if (this.#closeInfo) return;
    if (payload.flags & PayloadFlag.WriteFailed) {
      // The far end can no longer deliver what we send (Go closes its send buffer).
      const error = new ZitiConnectionClosedError(
        `connection ${this.connId}: the far end failed to write`,
      );
      this.#sendStateClosed(error.message);
      this.#finish({ initiator: 'remote', reason: 'peer write failed', error }, error, true);
      return;
    }
    let flags: number;
    try {
      flags = edgeFlagsOf(payload);
    } catch (err) {
      this.#fail(err as Error);
      return;
    }
    if (payload.flags & (PayloadFlag.EOF | PayloadFlag.CircuitEnd)) flags |= EdgeFlag.FIN;
    if (payload.data.length === 0 && !(flags & EdgeFlag.FIN)) return; // CircuitStart, empty
    if (this.#finReceived) return; // EOF after FIN
    void this.#onBody([payload.data], flags);
  }

  /**
   * One body in order (Data, or a payload's data), as the pieces it arrived in, with the edge
   * Flags it came with.
   */
  #onBody(pieces: readonly Uint8Array[], dataFlags: number): void | Promise<void> {
    let parts: Uint8Array[];
    const fin = (dataFlags & EdgeFlag.FIN) !== 0;
    try {
      let length = 0;
      for (const piece of pieces) length += piece.length;
      if (this.#finReceived && length > 0) {
        // A peer that sends after its FIN lost or reordered bytes: say so instead of dropping them.
        throw new ZitiProtocolError(
          'unexpected-message',
          `connection ${this.connId}: Data after FIN`,
        );
      }
      let plain: Uint8Array;
      if (!this.encrypted || length === 0) plain = joinPieces(pieces);
      else if (!this.#decryptor) {
        // The peer's first Data is its secretstream header, alone (reference §4).
        this.#decryptor = new SecretStreamDecryptor(joinPieces(pieces), this.#rx!);
        plain = new Uint8Array(0);
      } else {
        // Straight from the pieces into libsodium's memory: no joined copy of the body.
        plain = this.#decryptor.pull(pieces);
      }
      this.bytesIn += plain.length;
      const multipart = (dataFlags & EdgeFlag.MULTIPART_MSG) !== 0;
      parts = multipart && plain.length > 0 ? splitMultipart(plain) : [plain];
    } catch (err) {
      this.#fail(err as Error);
      return;
    }
    if (!this.#readEnded) {
      for (const part of parts) if (part.length > 0) this.#readController.enqueue(part);
    }
    if (fin && !this.#finReceived) {
      this.#finReceived = true;
      if (!this.#readEnded) {
        this.#readEnded = true;
        this.#readController.close();
      }
      this.#maybeDone();
      return;
    }
    if (this.#readEnded || this.#xg) return;
    // Past the cap, or under 'close' past the window, the connection goes.
    const limit =
      this.#cap ?? (this.#overflow === 'close' ? this.#window : Number.POSITIVE_INFINITY);
    if (this.queuedBytes > limit) {
      this.#fail(
        new ZitiConnectionClosedError(
          `connection ${this.connId}: reader more than ${limit} bytes behind, closed`,
        ),
      );
      return;
    }
    const room = this.#readController.desiredSize ?? 1;
    if (this.#overflow === 'pause' && room <= 0)
      return new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
  }

  #onStateClosed(msg: Message): void {
    let reason = 'closed by peer';
    try {
      reason = decodeStateClosed(msg).reason || reason;
    } catch {}
    const error = new ZitiConnectionClosedError(
      `connection ${this.connId} closed by peer: ${reason}`,
    );
    // Payloads after a missing one will never be readable: an error, not a clean end (Go ends).
    if (this.#xg?.hasGap) {
      this.#finish({ initiator: 'remote', reason, error }, error, true);
      return;
    }
    // As Go: buffered data stays readable, then end of stream.
    if (!this.#readEnded) {
      this.#readEnded = true;
      this.#readController.close();
    }
    this.#finish({ initiator: 'remote', reason }, error);
  }

  async #write(chunk: Uint8Array): Promise<void> {
    if (this.#closeInfo) throw new ZitiConnectionClosedError('connection is closed');
    if (this.#fin) throw new ZitiConnectionClosedError('write after closeWrite()');
    this.bytesOut += chunk.length;
    const max = this.encrypted ? MAX_DATA_BODY_BYTES - SECRETSTREAM_ABYTES : MAX_DATA_BODY_BYTES;
    const run = async () => {
      for (let at = 0; at < chunk.length; at += max) {
        if (this.#closeInfo) throw new ZitiConnectionClosedError('connection is closed');
        const slice = chunk.subarray(at, Math.min(chunk.length, at + max));
        await this.#sendData(this.#seal(slice), 0);
      }
    };
    this.#inflight = run();
    await this.#inflight;
  }

  /**
   * The Data body of `slice`: sealed when end-to-end encrypted. Data framing may seal into the
   * encryptor's reused buffer, because the channel has copied a body when its send resolves and
   * the next slice is sealed only after that; flow control keeps every payload until the far end
   * acknowledges it, so there each body gets a buffer of its own.
   */
  #seal(slice: Uint8Array): Uint8Array {
    if (!this.#encryptor) return slice;
    return this.#xg ? this.#encryptor.push(slice) : this.#encryptor.pushTransient(slice);
  }

  #sendData(body: Uint8Array, flags: number): Promise<void> {
    if (this.#xg) {
      const headers = new Map<number, Uint8Array>();
      if (flags !== 0) headers.set(PAYLOAD_EDGE_FLAGS_KEY, u32Bytes(flags));
      const sent = this.#xg.write(body, headers);
      // sdk-golang CloseWrite: the FIN payload, then EOF (`CloseRxTimeout` → `sendEOF`).
      return flags & EdgeFlag.FIN ? sent.then(() => this.#xg!.sendControl(PayloadFlag.EOF)) : sent;
    }
    const seq = this.#nextSeq++;
    return this.#channel.send(encodeData({ connId: this.connId, seq, flags, body }));
  }

  #sendStateClosed(reason: string): void {
    const xg = this.#xg;
    if (xg) {
      if (this.#xgClosing) return;
      this.#xgClosing = true;
      // The circuit ends once our payloads arrived: CircuitEnd, then XgClose (Go `Xgress.Close`).
      void (async () => {
        if (!xg.closed) await xg.flushed(XG_CLOSE_FLUSH_MS);
        if (!xg.closed) await xg.sendControl(PayloadFlag.CircuitEnd).catch(() => {});
        xg.close();
        this.#mux.unregister(this.connId, this);
        await this.#channel.send(encodeXgClose(xg.circuitId)).catch(() => {});
      })();
      return;
    }
    const msg = encodeStateClosed({ connId: this.connId, seq: this.#nextSeq++, reason });
    this.#channel.send(msg).catch(() => {});
  }

  /** FIN both ways: the connection is done; tell the router (Go closes after both halves). */
  #maybeDone(): void {
    if (this.#finReceived && this.#fin && !this.#closeInfo) {
      this.#sendStateClosed('both sides finished');
      this.#finish(
        { initiator: 'local', reason: 'both sides finished' },
        new ZitiConnectionClosedError('connection finished'),
      );
    }
  }

  /** A failure on this connection only: StateClosed to the router, errors to the streams. */
  #fail(error: Error): void {
    if (this.#closeInfo) return;
    this.#sendStateClosed(error.message);
    this.#finish({ initiator: 'error', reason: error.message, error }, error, true);
  }

  /**
   * Ends the connection. With `afterQueued`, bytes already queued for the reader are still
   * delivered before the readable errors (they were received intact, as in Go's reader).
   */
  #finish(info: EdgeCloseInfo, error: Error, afterQueued = false): void {
    if (this.#closeInfo) return;
    this.#closeInfo = info;
    // A flow-controlled connection stays registered until its close was sent (#sendStateClosed);
    // when the router or channel ended it, nothing more will come.
    if (!this.#xg || !this.#xgClosing) {
      this.#xg?.close();
      this.#mux.unregister(this.connId, this);
    }
    if (!this.#readEnded) {
      this.#readEnded = true;
      if (afterQueued && this.queuedBytes > 0) this.#deferredError = error;
      else this.#readController.error(error);
    }
    this.#writeController.error(error);
    this.#encryptor?.dispose();
    this.#decryptor?.dispose();
    this.#early = [];
    this.#releaseEarly();
    this.#releaseDrain();
    this.#resolveClosed(info);
  }

  #releaseDrain(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }
}
