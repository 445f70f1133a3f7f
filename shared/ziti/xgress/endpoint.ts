/**
 * One end of an xgress circuit carried on an edge channel (SDK flow control, `UseXgressToSdk`).
 * The same class serves the SDK (the circuit's initiator) and the dev fabric's router (the
 * terminator side of a circuit whose dialer asked for flow control).
 *
 * Behaviour follows sdk-golang v1.2.10 `xgress/xgress.go`, `link_send_buffer.go` and
 * `link_receive_buffer.go`, which the OpenZiti router runs on the other end:
 * - Sending: payloads are numbered from 0 per direction (the initiator's 0 is the empty
 *   CircuitStart). A payload stays buffered until acknowledged and is sent again, flagged
 *   Retransmit, when no acknowledgement came within 1.5 round trips (first 200 ms). Writing waits
 *   while unacknowledged bytes reach the window (4 MiB), or while the peer reports more than
 *   4 MiB it has not handed to its reader, unless nothing is in flight (as Go: one payload at a time
 *   still goes, so window updates keep coming).
 * - Receiving: payloads are acknowledged on arrival (one acknowledgement per task, listing every
 *   sequence), delivered in order, duplicates acknowledged again and dropped. Each acknowledgement
 *   carries the receive buffer: bytes held out of order plus bytes delivered that the reader has not
 *   taken (`pendingBytes`). When the reader halves a buffer last reported above 10 000 bytes, an
 *   empty acknowledgement tells the sender (window update).
 * - Past the receive limit (4 MiB) we differ from Go on purpose. Go's sender still sends one payload
 *   per acknowledgement while the receiver reports a full buffer, and Go's receiver drops what comes
 *   past its limit; with a slow reader most of the stream is then sent, dropped and sent again
 *   (measured against a v1.7.2 router: 601 payloads dropped in a 24 MiB download read at 4 MiB/s).
 *   Here the payload that crosses the limit is kept but its acknowledgement is held, and every
 *   acknowledgement reports the buffer as full (`FULL_REPORT`) until the reader has taken half the
 *   limit: with one payload unacknowledged and the remote window exceeded, the Go sender stops,
 *   whatever its window settings. Payloads already on their way are kept and acknowledged; only
 *   the held one is retransmitted meanwhile (at most every 100 ms), and recognised as a duplicate.
 * Memory on the receiving side therefore stays under the receive limit plus the sender's window
 * (4 MiB), however slow the reader, nothing is sent twice in bulk, and no transport is paused.
 */
import type { Message } from '../channel/message.ts';
import { ZitiConnectionClosedError } from '../errors.ts';
import {
  encodeAck,
  encodePayload,
  type Originator,
  originatorFlag,
  originatorOf,
  PayloadFlag,
  type XgAck,
  type XgPayload,
} from './messages.ts';

export interface XgressOptions {
  /** Unacknowledged bytes we may have in flight (Go `TxPortalStartSize`/`MaxSize`). */
  windowBytes?: number;
  /** Stop sending while the peer reports more unread bytes than this (Go `TxPortalMaxSize`). */
  remoteWindowBytes?: number;
  /** Hold acknowledgements while we hold more than this (Go drops past its `RxBufferSize`). */
  receiveLimitBytes?: number;
  /** Retransmit after this long until a round trip was measured (Go `RetxStartMs`). */
  retransmitStartMs?: number;
  /** Never retransmit sooner than this (a browser's task queue delays acknowledgements). */
  retransmitMinMs?: number;
}

export const XGRESS_DEFAULTS: Required<XgressOptions> = {
  windowBytes: 4 * 1024 * 1024,
  remoteWindowBytes: 4 * 1024 * 1024,
  receiveLimitBytes: 4 * 1024 * 1024,
  retransmitStartMs: 200,
  retransmitMinMs: 100,
};

/** The receive buffer we report while an acknowledgement is held: more than any sender window. */
export const FULL_REPORT = 0x7fffffff;

export interface XgressEndpointInit {
  circuitId: string;
  originator: Originator;
  /** Sends one message on the edge channel. */
  send: (msg: Message) => Promise<void>;
  /** Put on outgoing payloads (and acknowledgements when `connIdOnAcks`): the edge ConnId. */
  connId?: number;
  connIdOnAcks?: boolean;
  /** Takes each payload in sequence order, the empty control payloads included. */
  deliver: (payload: XgPayload) => void;
  /** Bytes delivered that the reader has not taken yet. */
  pendingBytes?: () => number;
  /** A send failed: the endpoint is unusable. */
  onError?: (error: Error) => void;
  options?: XgressOptions;
  /** Milliseconds clock (tests). */
  now?: () => number;
}

interface InFlight {
  payload: XgPayload;
  sentAt: number;
}

export class XgressEndpoint {
  readonly circuitId: string;
  readonly originator: Originator;
  /** Statistics for status pages and tests. */
  retransmits = 0;
  duplicates = 0;
  /** Payloads whose acknowledgement waited for the reader. */
  held = 0;

  readonly #init: XgressEndpointInit;
  readonly #opts: Required<XgressOptions>;
  readonly #now: () => number;
  // sending
  #nextSeq = 0;
  readonly #inFlight = new Map<number, InFlight>();
  #inFlightBytes = 0;
  #remoteBuffered = 0;
  #rtt = 0;
  #retransmitMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #waiters: (() => void)[] = [];
  #flushWaiters: (() => void)[] = [];
  // receiving
  #expect = 0;
  #maxSeq = -1;
  readonly #outOfOrder = new Map<number, XgPayload>();
  #outOfOrderBytes = 0;
  #ackSeqs: number[] = [];
  #ackRtt = 0;
  #ackScheduled = false;
  #lastReportedSize = 0;
  /** The sequence whose acknowledgement waits for the reader (buffer past the receive limit). */
  #heldSeq: number | undefined;
  #closed: Error | undefined;

  constructor(init: XgressEndpointInit) {
    this.#init = init;
    this.circuitId = init.circuitId;
    this.originator = init.originator;
    this.#opts = { ...XGRESS_DEFAULTS, ...init.options };
    this.#now = init.now ?? (() => Date.now());
    this.#retransmitMs = this.#opts.retransmitStartMs;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Bytes sent and not yet acknowledged. */
  get inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  /** What we would report as our receive buffer now. */
  get bufferedBytes(): number {
    return this.#outOfOrderBytes + (this.#init.pendingBytes?.() ?? 0);
  }

  // --- sending ---------------------------------------------------------------------------------

  /** The initiator's first payload: an empty CircuitStart (Go `GetStartCircuit`). */
  start(): Promise<void> {
    return this.sendControl(PayloadFlag.CircuitStart);
  }

  /**
   * Sends one data payload; waits first while the window is full. `headers` are the per-payload
   * headers (0x10: the edge Flags).
   */
  async write(data: Uint8Array, headers?: Map<number, Uint8Array>): Promise<void> {
    while (!this.#closed && this.#blocked()) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    if (this.#closed) throw this.#closed;
    await this.#transmit(data, 0, headers ?? new Map());
  }

  /** An empty payload with `flags` (EOF, CircuitEnd, WriteFailed); never waits for the window. */
  sendControl(flags: number): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closed);
    return this.#transmit(new Uint8Array(0), flags, new Map());
  }

  /** Resolves true once everything sent was acknowledged, false on close or after `timeoutMs`. */
  flushed(timeoutMs: number): Promise<boolean> {
    if (this.#inFlight.size === 0) return Promise.resolve(true);
    if (this.#closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#flushWaiters.push(() => {
        clearTimeout(timer);
        resolve(this.#inFlight.size === 0);
      });
    });
  }

  onAck(ack: XgAck): void {
    if (this.#closed) return;
    for (const seq of ack.sequences) {
      const entry = this.#inFlight.get(seq);
      if (!entry) continue; // duplicate acknowledgement
      this.#inFlight.delete(seq);
      this.#inFlightBytes -= entry.payload.data.length;
    }
    this.#remoteBuffered = ack.recvBufferSize;
    if (ack.rtt > 0) {
      const sample = (this.#now() - ack.rtt) & 0xffff;
      this.#rtt = this.#rtt > 0 ? (sample + this.#rtt) >> 1 : sample;
      this.#retransmitMs = Math.max(this.#opts.retransmitMinMs, Math.round(this.#rtt * 1.5));
    }
    this.#wake();
    if (this.#inFlight.size === 0) {
      this.#stopTimer();
      const flush = this.#flushWaiters;
      this.#flushWaiters = [];
      for (const f of flush) f();
    }
  }

  #blocked(): boolean {
    if (this.#inFlight.size === 0) return false;
    return (
      this.#inFlightBytes >= this.#opts.windowBytes ||
      this.#remoteBuffered > this.#opts.remoteWindowBytes
    );
  }

  #transmit(data: Uint8Array, flags: number, headers: Map<number, Uint8Array>): Promise<void> {
    const payload: XgPayload = {
      circuitId: this.circuitId,
      sequence: this.#nextSeq++,
      flags: flags | originatorFlag(this.originator),
      rtt: this.#now() & 0xffff,
      headers,
      data,
    };
    this.#inFlight.set(payload.sequence, { payload, sentAt: this.#now() });
    this.#inFlightBytes += data.length;
    this.#armTimer();
    return this.#send(encodePayload(payload, this.#init.connId));
  }

  #send(msg: Message): Promise<void> {
    return this.#init.send(msg).catch((err: Error) => {
      this.close(err);
      this.#init.onError?.(err);
      throw err;
    });
  }

  #armTimer(): void {
    if (this.#timer !== undefined || this.#closed) return;
    const tick = () => {
      this.#timer = undefined;
      if (this.#closed || this.#inFlight.size === 0) return;
      this.#retransmitDue();
      this.#timer = setTimeout(tick, 100);
    };
    this.#timer = setTimeout(tick, 100);
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #retransmitDue(): void {
    const now = this.#now();
    for (const entry of this.#inFlight.values()) {
      if (now - entry.sentAt < this.#retransmitMs) continue;
      entry.sentAt = now;
      this.retransmits++;
      const payload = {
        ...entry.payload,
        flags: entry.payload.flags | PayloadFlag.Retransmit,
        rtt: now & 0xffff,
      };
      this.#send(encodePayload(payload, this.#init.connId)).catch(() => {});
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  // --- receiving -------------------------------------------------------------------------------

  onPayload(payload: XgPayload): void {
    if (this.#closed) return;
    // Our own payload coming back means a routing loop (Go: "ouroboros"); never deliver it.
    if (originatorOf(payload.flags) === this.originator) return;
    const seq = payload.sequence;
    if (seq < this.#expect || this.#outOfOrder.has(seq)) {
      this.duplicates++;
      if (seq !== this.#heldSeq) this.#queueAck(payload);
      return;
    }
    if (seq > this.#maxSeq) this.#maxSeq = seq;
    if (seq === this.#expect) {
      this.#expect++;
      this.#init.deliver(payload);
      while (this.#outOfOrder.has(this.#expect)) {
        const next = this.#outOfOrder.get(this.#expect)!;
        this.#outOfOrder.delete(this.#expect);
        this.#outOfOrderBytes -= next.data.length;
        this.#expect++;
        this.#init.deliver(next);
      }
    } else {
      this.#outOfOrder.set(seq, payload);
      this.#outOfOrderBytes += payload.data.length;
    }
    if (this.#heldSeq === undefined && this.bufferedBytes > this.#opts.receiveLimitBytes) {
      this.#heldSeq = seq;
      this.held++;
      this.#sendAck([], 0); // reports the buffer full: the sender stops
      return;
    }
    this.#queueAck(payload);
  }

  /** The reader took bytes: tell the sender when the buffer it last heard of has halved. */
  readerProgress(): void {
    if (this.#closed) return;
    const size = this.bufferedBytes;
    if (this.#heldSeq !== undefined) {
      // Not skipped when an acknowledgement is queued: that one would not carry the held sequence,
      // and a reader now waiting for data may never call again.
      if (size > this.#opts.receiveLimitBytes / 2) return;
      const held = this.#heldSeq;
      this.#heldSeq = undefined;
      this.#sendAck([held], 0); // no round-trip sample: the delay was ours
      return;
    }
    // A queued acknowledgement will report the current size anyway.
    if (this.#ackScheduled) return;
    if (this.#lastReportedSize > 10_000 && this.#lastReportedSize >> 1 > size) {
      this.#sendAck([], 0);
    }
  }

  /** True when payloads are held waiting for a gap to fill. */
  get hasGap(): boolean {
    return this.#outOfOrder.size > 0;
  }

  #queueAck(payload: XgPayload): void {
    this.#ackSeqs.push(payload.sequence);
    this.#ackRtt = payload.rtt;
    if (this.#ackScheduled) return;
    this.#ackScheduled = true;
    queueMicrotask(() => {
      this.#ackScheduled = false;
      const seqs = this.#ackSeqs;
      this.#ackSeqs = [];
      if (seqs.length > 0 && !this.#closed) this.#sendAck(seqs, this.#ackRtt);
    });
  }

  #sendAck(sequences: number[], rtt: number): void {
    const size = this.bufferedBytes;
    this.#lastReportedSize = size;
    const recvBufferSize = this.#heldSeq === undefined ? size : FULL_REPORT;
    const ack: XgAck = {
      circuitId: this.circuitId,
      flags: originatorFlag(this.originator),
      recvBufferSize,
      rtt,
      sequences,
    };
    this.#send(encodeAck(ack, this.#init.connIdOnAcks ? this.#init.connId : undefined)).catch(
      () => {},
    );
  }

  // --- end -------------------------------------------------------------------------------------

  /** Stops timers and fails waiting writes; later messages are ignored. */
  close(error: Error = new ZitiConnectionClosedError('xgress circuit closed')): void {
    if (this.#closed) return;
    this.#closed = error;
    this.#stopTimer();
    this.#wake();
    const flush = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const f of flush) f();
    this.#outOfOrder.clear();
    this.#outOfOrderBytes = 0;
    this.#heldSeq = undefined;
  }
}
