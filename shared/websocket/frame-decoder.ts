/**
 * Incremental RFC 6455 receiver: a state machine over a byte queue (head, 16/64-bit length, mask,
 * payload) that never assumes a chunk holds a whole frame. It reassembles fragmented messages,
 * validates UTF-8 of text as it arrives (fail fast, §8.1) and checks every rule a receiver must:
 * reserved bits (no extension is negotiated), opcodes, control frames (<= 125 bytes, unfragmented),
 * continuation order, masking direction, the message size limit and close codes.
 *
 * Payload bytes are kept as the slices they arrived in and joined once per message.
 * A protocol error is thrown as `WebSocketProtocolError`; the decoder is unusable afterwards.
 */
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  isValidWireCloseCode,
  MAX_CONTROL_PAYLOAD,
  Opcode,
} from './constants.ts';
import { WebSocketProtocolError } from './errors.ts';
import { applyMask } from './frame.ts';

export type DecodedEvent =
  | { type: 'text'; data: string }
  | { type: 'binary'; data: Uint8Array }
  | { type: 'ping'; data: Uint8Array }
  | { type: 'pong'; data: Uint8Array }
  /** `code` undefined: the close frame had no status (the API reports 1005). */
  | { type: 'close'; code: number | undefined; reason: string };

export interface FrameDecoderOptions {
  /** 'client' (default) rejects masked frames; 'server' requires them (§5.1). */
  role?: 'client' | 'server';
  /** Largest message, all fragments together; default 64 MiB. Beyond: 1009. */
  maxMessageSize?: number;
}

enum State {
  Head,
  Len16,
  Len64,
  Mask,
  Payload,
}

const protocolError = (message: string) =>
  new WebSocketProtocolError('ERR_WS_PROTOCOL', 1002, message);

export class FrameDecoder {
  readonly #role: 'client' | 'server';
  readonly #maxMessage: number;
  readonly #queue: Uint8Array[] = [];
  #queued = 0;
  #state = State.Head;
  #failed: WebSocketProtocolError | null = null;

  // Current frame.
  #fin = false;
  #opcode = 0;
  #masked = false;
  #mask = new Uint8Array(4);
  #remaining = 0;
  #payloadOffset = 0;
  #control: Uint8Array[] = [];

  // Current data message (across fragments).
  #messageOpcode = 0;
  #messageSize = 0;
  #parts: Uint8Array[] = [];
  #text = '';
  #utf8: TextDecoder | null = null;
  #closed = false;

  constructor(options: FrameDecoderOptions = {}) {
    this.#role = options.role ?? 'client';
    this.#maxMessage = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  }

  /** Feeds bytes; returns the complete messages and control frames they finish, in order. */
  push(chunk: Uint8Array): DecodedEvent[] {
    if (this.#failed) throw this.#failed;
    if (chunk.length) {
      this.#queue.push(chunk);
      this.#queued += chunk.length;
    }
    const events: DecodedEvent[] = [];
    try {
      while (this.#step(events)) {}
    } catch (e) {
      if (e instanceof WebSocketProtocolError) this.#failed = e;
      throw e;
    }
    return events;
  }

  /** A data message is partly received (the stream ended mid-message if it ends now). */
  get inMessage(): boolean {
    return this.#messageOpcode !== 0 || this.#state !== State.Head || this.#queued > 0;
  }

  #step(events: DecodedEvent[]): boolean {
    if (this.#closed) {
      // §5.5.1: nothing may follow the close frame.
      if (this.#queued > 0) throw protocolError('data after the close frame');
      return false;
    }
    switch (this.#state) {
      case State.Head: {
        if (this.#queued < 2) return false;
        const h = this.#take(2);
        this.#head(h[0] as number, h[1] as number);
        return true;
      }
      case State.Len16: {
        if (this.#queued < 2) return false;
        const b = this.#take(2);
        this.#setLength(((b[0] as number) << 8) | (b[1] as number));
        return true;
      }
      case State.Len64: {
        if (this.#queued < 8) return false;
        const b = this.#take(8);
        const v = new DataView(b.buffer, b.byteOffset, 8);
        const hi = v.getUint32(0);
        // §5.2: the most significant bit must be 0; beyond 2^53 we could not count anyway.
        if (hi > 0x1fffff) {
          if (hi & 0x80000000) throw protocolError('64-bit length with the top bit set');
          throw new WebSocketProtocolError('ERR_WS_MESSAGE_TOO_BIG', 1009, 'frame too large');
        }
        this.#setLength(hi * 2 ** 32 + v.getUint32(4));
        return true;
      }
      case State.Mask: {
        if (this.#queued < 4) return false;
        this.#mask = this.#take(4).slice();
        this.#state = State.Payload;
        return true;
      }
      case State.Payload: {
        if (this.#remaining === 0) {
          this.#endFrame(events);
          return true;
        }
        if (this.#queued === 0) return false;
        const piece = this.#takeUpTo(this.#remaining);
        this.#remaining -= piece.length;
        this.#payload(piece);
        if (this.#remaining === 0) this.#endFrame(events);
        return true;
      }
    }
  }

  #head(b0: number, b1: number): void {
    if (b0 & 0x70) throw protocolError('reserved bits set without a negotiated extension');
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
    const control = opcode >= 0x8;
    if (
      opcode !== Opcode.Continuation &&
      opcode !== Opcode.Text &&
      opcode !== Opcode.Binary &&
      opcode !== Opcode.Close &&
      opcode !== Opcode.Ping &&
      opcode !== Opcode.Pong
    ) {
      throw protocolError(`reserved opcode 0x${opcode.toString(16)}`);
    }
    if (masked !== (this.#role === 'server')) {
      throw protocolError(
        masked ? 'masked frame from the server' : 'unmasked frame from the client',
      );
    }
    if (control) {
      if (!fin) throw protocolError('fragmented control frame');
      if (len7 > MAX_CONTROL_PAYLOAD) throw protocolError('control frame longer than 125 bytes');
    } else if (opcode === Opcode.Continuation) {
      if (this.#messageOpcode === 0) throw protocolError('continuation without a message');
    } else {
      if (this.#messageOpcode !== 0) throw protocolError('new message before the last one ended');
      this.#messageOpcode = opcode;
      this.#messageSize = 0;
      if (opcode === Opcode.Text) {
        this.#utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
        this.#text = '';
      }
    }
    this.#fin = fin;
    this.#opcode = opcode;
    this.#masked = masked;
    this.#payloadOffset = 0;
    if (len7 === 126) this.#state = State.Len16;
    else if (len7 === 127) this.#state = State.Len64;
    else this.#setLength(len7);
  }

  #setLength(len: number): void {
    if (this.#opcode < 0x8) {
      this.#messageSize += len;
      if (this.#messageSize > this.#maxMessage) {
        throw new WebSocketProtocolError(
          'ERR_WS_MESSAGE_TOO_BIG',
          1009,
          `message larger than ${this.#maxMessage} bytes`,
        );
      }
    }
    this.#remaining = len;
    this.#control = [];
    this.#state = this.#masked ? State.Mask : State.Payload;
  }

  #payload(piece: Uint8Array): void {
    let data = piece;
    if (this.#masked) {
      data = piece.slice();
      applyMask(data, this.#mask, this.#payloadOffset);
    }
    this.#payloadOffset += data.length;
    if (this.#opcode >= 0x8) this.#control.push(data);
    else if (this.#messageOpcode === Opcode.Text) this.#decodeText(data, true);
    else this.#parts.push(data);
  }

  #decodeText(data: Uint8Array, stream: boolean): void {
    try {
      this.#text += (this.#utf8 as TextDecoder).decode(data, { stream });
    } catch {
      throw new WebSocketProtocolError('ERR_WS_INVALID_UTF8', 1007, 'text message is not UTF-8');
    }
  }

  #endFrame(events: DecodedEvent[]): void {
    this.#state = State.Head;
    const opcode = this.#opcode;
    if (opcode >= 0x8) {
      const data = concat(this.#control, this.#payloadOffset);
      this.#control = [];
      if (opcode === Opcode.Ping) events.push({ type: 'ping', data });
      else if (opcode === Opcode.Pong) events.push({ type: 'pong', data });
      else {
        events.push(parseClose(data));
        this.#closed = true;
      }
      return;
    }
    if (!this.#fin) return;
    if (this.#messageOpcode === Opcode.Text) {
      this.#decodeText(new Uint8Array(0), false);
      events.push({ type: 'text', data: this.#text });
      this.#text = '';
      this.#utf8 = null;
    } else {
      events.push({ type: 'binary', data: concat(this.#parts, this.#messageSize) });
      this.#parts = [];
    }
    this.#messageOpcode = 0;
  }

  #take(n: number): Uint8Array {
    const first = this.#queue[0] as Uint8Array;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.#queue.shift();
      else this.#queue[0] = first.subarray(n);
      this.#queued -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const piece = this.#takeUpTo(n - filled);
      out.set(piece, filled);
      filled += piece.length;
    }
    return out;
  }

  #takeUpTo(n: number): Uint8Array {
    const first = this.#queue[0] as Uint8Array;
    if (first.length <= n) {
      this.#queue.shift();
      this.#queued -= first.length;
      return first;
    }
    this.#queue[0] = first.subarray(n);
    this.#queued -= n;
    return first.subarray(0, n);
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const closeReasonDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** §5.5.1 close payload: empty, or a valid code and a UTF-8 reason. */
function parseClose(data: Uint8Array): DecodedEvent {
  if (data.length === 0) return { type: 'close', code: undefined, reason: '' };
  if (data.length === 1) throw protocolError('close frame with a 1-byte payload');
  const code = ((data[0] as number) << 8) | (data[1] as number);
  if (!isValidWireCloseCode(code)) {
    throw new WebSocketProtocolError('ERR_WS_INVALID_CLOSE', 1002, `invalid close code ${code}`);
  }
  let reason: string;
  try {
    reason = closeReasonDecoder.decode(data.subarray(2));
  } catch {
    throw new WebSocketProtocolError('ERR_WS_INVALID_UTF8', 1007, 'close reason is not UTF-8');
  }
  return { type: 'close', code, reason };
}
