/**
 * Channel V2 frame codec (reference §2.1): `encodeMessage` is pure; `MessageDecoder` is a state
 * machine over a byte queue that accepts input split at any byte and enforces limits before it
 * buffers a frame, so a hostile length field never causes a large allocation.
 */
import { ZitiProtocolError } from '../errors.ts';
import {
  ContentType,
  DEFAULT_MAX_FRAME_BYTES,
  FRAME_PREFIX_BYTES,
  HELLO_MAX_BODY_BYTES,
  HELLO_MAX_HEADERS_BYTES,
  MAGIC_V2,
} from './constants.ts';
import { joinPieces, type Message } from './message.ts';

/** Bytes of one frame on the wire. */
export function encodeMessage(msg: Message): Uint8Array {
  const out = new Uint8Array(frameHeadLength(msg) + msg.body.length);
  out.set(msg.body, writeFrameHead(msg, out));
  return out;
}

/**
 * The bytes of a frame before its body (the prefix, with the body's length, and the headers): sent
 * right before the body itself, the frame needs no copy of the body.
 */
export function encodeMessageHead(msg: Message): Uint8Array {
  const out = new Uint8Array(frameHeadLength(msg));
  writeFrameHead(msg, out);
  return out;
}

function frameHeadLength(msg: Message): number {
  let length = FRAME_PREFIX_BYTES;
  for (const value of msg.headers.values()) length += 8 + value.length;
  return length;
}

/** Writes the prefix and headers of `msg` at the start of `out`; returns where the body goes. */
function writeFrameHead(msg: Message, out: Uint8Array): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.set(MAGIC_V2, 0);
  view.setInt32(4, msg.contentType, true);
  view.setInt32(8, msg.sequence, true);
  view.setInt32(16, msg.body.length, true);
  let at = FRAME_PREFIX_BYTES;
  for (const [id, value] of msg.headers) {
    view.setInt32(at, id, true);
    view.setUint32(at + 4, value.length, true);
    out.set(value, at + 8);
    at += 8 + value.length;
  }
  view.setInt32(12, at - FRAME_PREFIX_BYTES, true);
  return at;
}

/** Parses the header section of a frame. */
export function decodeHeaders(bytes: Uint8Array): Map<number, Uint8Array> {
  const headers = new Map<number, Uint8Array>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < 8) {
      throw new ZitiProtocolError('bad-headers', 'truncated header entry');
    }
    const id = view.getInt32(at, true);
    const len = view.getUint32(at + 4, true);
    at += 8;
    if (len > bytes.length - at) {
      throw new ZitiProtocolError('bad-headers', `header ${id} length ${len} overruns headers`);
    }
    // Duplicate key: the last one wins, as in Go's map.
    headers.set(id, bytes.subarray(at, at + len));
    at += len;
  }
  return headers;
}

export interface MessageDecoderOptions {
  /** Largest headers + body accepted for any frame; default 16 MiB. */
  maxFrameBytes?: number;
}

/**
 * Incremental decoder: `push()` bytes in any slicing, get complete messages back. Messages may
 * alias the pushed chunks: a body inside one chunk is a view of it, a body split across chunks
 * comes as `bodyPieces` (views) and is joined only if `body` is read. After the first protocol
 * error the decoder is dead and every later `push()` throws the same error.
 */
export class MessageDecoder {
  readonly maxFrameBytes: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #error: ZitiProtocolError | undefined;
  /** Body + header lengths of the frame whose prefix was read, or undefined. */
  #pending: { contentType: number; sequence: number; headers: number; body: number } | undefined;

  constructor(options: MessageDecoderOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Bytes held waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  push(chunk: Uint8Array): Message[] {
    if (this.#error) throw this.#error;
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const out: Message[] = [];
    try {
      for (;;) {
        const msg = this.#next();
        if (!msg) break;
        out.push(msg);
      }
    } catch (err) {
      this.#error = err as ZitiProtocolError;
      this.#chunks = [];
      this.#buffered = 0;
      throw err;
    }
    return out;
  }

  #next(): Message | undefined {
    if (!this.#pending) {
      if (this.#buffered < FRAME_PREFIX_BYTES) return undefined;
      const prefix = this.#take(FRAME_PREFIX_BYTES);
      for (let i = 0; i < 4; i++) {
        if (prefix[i] !== MAGIC_V2[i]) {
          throw new ZitiProtocolError('bad-magic', 'not a channel V2 frame (bad magic)');
        }
      }
      const view = new DataView(prefix.buffer, prefix.byteOffset, FRAME_PREFIX_BYTES);
      const contentType = view.getInt32(4, true);
      const sequence = view.getInt32(8, true);
      const headers = view.getInt32(12, true);
      const body = view.getInt32(16, true);
      if (headers < 0 || body < 0) {
        throw new ZitiProtocolError('bad-length', 'negative headers or body length');
      }
      if (
        contentType === ContentType.Hello &&
        (headers > HELLO_MAX_HEADERS_BYTES || body > HELLO_MAX_BODY_BYTES)
      ) {
        throw new ZitiProtocolError(
          'hello-too-large',
          `hello headers ${headers} / body ${body} exceed ${HELLO_MAX_HEADERS_BYTES} / ${HELLO_MAX_BODY_BYTES}`,
        );
      }
      if (headers + body > this.maxFrameBytes) {
        throw new ZitiProtocolError(
          'frame-too-large',
          `frame of ${headers + body} bytes exceeds the limit of ${this.maxFrameBytes}`,
        );
      }
      this.#pending = { contentType, sequence, headers, body };
    }
    const p = this.#pending;
    if (this.#buffered < p.headers + p.body) return undefined;
    this.#pending = undefined;
    const headers = decodeHeaders(this.#take(p.headers));
    const { contentType, sequence } = p;
    const pieces = this.#takePieces(p.body);
    if (pieces.length === 1) return { contentType, sequence, headers, body: pieces[0]! };
    let joined: Uint8Array | undefined;
    return {
      contentType,
      sequence,
      headers,
      bodyPieces: pieces,
      get body() {
        joined ??= joinPieces(pieces);
        return joined;
      },
    };
  }

  /** Removes `n` bytes from the front of the queue as views of the chunks they lie in. */
  #takePieces(n: number): Uint8Array[] {
    if (n === 0) return [new Uint8Array(0)];
    this.#buffered -= n;
    const pieces: Uint8Array[] = [];
    for (let left = n; left > 0; ) {
      const c = this.#chunks[0]!;
      if (c.length <= left) {
        pieces.push(c);
        this.#chunks.shift();
        left -= c.length;
      } else {
        pieces.push(c.subarray(0, left));
        this.#chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    return pieces;
  }

  /** Removes `n` bytes from the front of the queue (caller checked they are there). */
  #take(n: number): Uint8Array {
    this.#buffered -= n;
    const first = this.#chunks[0];
    if (n === 0) return new Uint8Array(0);
    if (first && first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.#chunks[0]!;
      const want = n - at;
      if (c.length <= want) {
        out.set(c, at);
        at += c.length;
        this.#chunks.shift();
      } else {
        out.set(c.subarray(0, want), at);
        this.#chunks[0] = c.subarray(want);
        at += want;
      }
    }
    return out;
  }
}
