/**
 * One end of an xgress circuit carried on an edge channel (SDK flow control, `UseXgressToSdk`).
 * The same class serves the SDK (the circuit's initiator) and the dev fabric's router (the
 * terminator side of a circuit whose dialer asked for flow control).
 *
 * Behaviour follows sdk-golang v1.2.10 `xgress/xgress.go`, `link_send_buffer.go` and
 * `link_receive_buffer.go`, which the OpenZiti router runs on the other end:
 * - Sending: payloads are numbered from 0 per direction (the initiator's 0 is the empty
 *   CircuitStart). A payload stays buffered until acknowledged and is sent again, flagged
 *   Retransmit, when no acknowledgement came within the retransmission timeout (`#rttSample`;
 *   never under 500 ms, doubling for each resend of a payload). Writing waits
 *   while unacknowledged bytes reach the window (4 MiB), or while the peer reports more than
 *   4 MiB minus what we have in flight it has not handed to its reader, unless nothing is in flight
 *   (as Go: one payload at a time still goes, so window updates keep coming). Counting our in-flight
 *   bytes against the peer's buffer is stricter than Go's sender: a Go receiver drops payloads past
 *   its 4 MiB, and each drop costs a retransmission timeout.
 * - Receiving: payloads are acknowledged on arrival, in batches: at most 4 ms late or once 16 wait
 *   (in a browser each acknowledgement is a TLS record and a WebSocket message; one per payload
 *   cost 7% of the worker's time in a download). The batch echoes the RTT stamp of its oldest
 *   payload, so the sender's round trip includes the wait. Payloads are delivered in order, duplicates acknowledged again and dropped. Each acknowledgement
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
  /**
   * Never retransmit sooner than this. A router never drops what an SDK sends it (its ingest queue
   * blocks), so nearly every early retransmission is spurious: on a busy machine acknowledgements
   * sometimes take ten times the usual round trip (measured against a v1.7.2 router: with a
   * 100 ms floor a 64 MiB upload sent 74 to 321 payloads twice, each acknowledged twice).
   */
  retransmitMinMs?: number;
  /** Acknowledge at most this long after a payload arrived; 0: at the end of the task. */
  ackDelayMs?: number;
  /** … or at once when this many payloads await acknowledgement. */
  ackBatch?: number;
}

export const XGRESS_DEFAULTS: Required<XgressOptions> = {
  windowBytes: 4 * 1024 * 1024,
  remoteWindowBytes: 4 * 1024 * 1024,
  receiveLimitBytes: 4 * 1024 * 1024,
  retransmitStartMs: 500,
  retransmitMinMs: 500,
  ackDelayMs: 4,
  ackBatch: 16,
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
  /** Times sent again; each doubles the wait before the next. */
  retries: number;
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
  #srtt = 0;
  #rttVar = 0;
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
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
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
    if (ack.rtt > 0) this.#rttSample((this.#now() - ack.rtt) & 0xffff);
    this.#wake();
    if (this.#inFlight.size === 0) {
      this.#stopTimer();
      const flush = this.#flushWaiters;
      this.#flushWaiters = [];
      for (const f of flush) f();
    }
  }

  /**
   * RFC 6298's estimator (smoothed round trip + 4 × its variation), not Go's 1.5 × the average of
   * the last two samples: when a slow peer lets our window queue up, round trips grow by hundreds
   * of milliseconds within one window, and Go's rule then resends a large part of every window
   * (measured against a v1.7.2 router: 566 of 2048 payloads of a 64 MiB upload).
   */
  #rttSample(sample: number): void {
    if (this.#srtt === 0) {
      this.#srtt = sample;
      this.#rttVar = sample / 2;
    } else {
      this.#rttVar = 0.75 * this.#rttVar + 0.25 * Math.abs(this.#srtt - sample);
      this.#srtt = 0.875 * this.#srtt + 0.125 * sample;
    }
    this.#retransmitMs = Math.max(
      this.#opts.retransmitMinMs,
      Math.round(this.#srtt + 4 * this.#rttVar),
    );
  }

  #blocked(): boolean {
    if (this.#inFlight.size === 0) return false;
    return (
      this.#inFlightBytes >= this.#opts.windowBytes ||
      this.#remoteBuffered + this.#inFlightBytes > this.#opts.remoteWindowBytes
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
    this.#inFlight.set(payload.sequence, { payload, sentAt: this.#now(), retries: 0 });
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
    // Checked twice per retransmission interval (Go: on every acknowledgement and every 100 ms).
    const every = () => Math.min(100, Math.max(10, this.#retransmitMs >> 1));
    const tick = () => {
      this.#timer = undefined;
      if (this.#closed || this.#inFlight.size === 0) return;
      this.#retransmitDue();
      this.#timer = setTimeout(tick, every());
    };
    this.#timer = setTimeout(tick, every());
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #retransmitDue(): void {
    const now = this.#now();
    for (const entry of this.#inFlight.values()) {
      if (now - entry.sentAt < this.#retransmitMs * 2 ** Math.min(entry.retries, 5)) continue;
      entry.sentAt = now;
      entry.retries++;
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
    if (this.#ackSeqs.length === 0) this.#ackRtt = payload.rtt;
    this.#ackSeqs.push(payload.sequence);
    if (this.#ackSeqs.length >= this.#opts.ackBatch) {
      this.#flushAcks();
      return;
    }
    if (this.#ackScheduled) return;
    this.#ackScheduled = true;
    if (this.#opts.ackDelayMs === 0) queueMicrotask(() => this.#flushAcks());
    else this.#ackTimer = setTimeout(() => this.#flushAcks(), this.#opts.ackDelayMs);
  }

  #flushAcks(): void {
    this.#ackScheduled = false;
    if (this.#ackTimer !== undefined) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    const seqs = this.#ackSeqs;
    this.#ackSeqs = [];
    if (seqs.length > 0 && !this.#closed) this.#sendAck(seqs, this.#ackRtt);
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
    if (this.#ackTimer !== undefined) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#wake();
    const flush = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const f of flush) f();
    this.#outOfOrder.clear();
    this.#outOfOrderBytes = 0;
    this.#heldSeq = undefined;
  }
}
