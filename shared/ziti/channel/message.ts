/**
 * The channel message and its typed header values (reference §2.1). All integers are little-endian.
 * Getters return `undefined` for an absent header and throw `ZitiProtocolError` for a value of the
 * wrong size, so a malformed peer never yields a silently wrong number.
 */
import { ZitiProtocolError } from '../errors.ts';

/** One channel V2 frame. Header order is the Map's insertion order on the wire. */
export interface Message {
  contentType: number;
  sequence: number;
  headers: Map<number, Uint8Array>;
  body: Uint8Array;
  /**
   * Set by the decoder when a received body arrived split across transport chunks: its pieces in
   * order, and `body` joins them only when first read. A reader that can take pieces (the edge's
   * decryption copies them into its own memory anyway) uses `bodyParts()` and saves that copy.
   */
  readonly bodyPieces?: readonly Uint8Array[];
}

/** The body as pieces, without joining a body the decoder received in several. */
export function bodyParts(msg: Message): readonly Uint8Array[] {
  return msg.bodyPieces ?? [msg.body];
}

/** Pieces as one array (the piece itself when there is one). */
export function joinPieces(pieces: readonly Uint8Array[]): Uint8Array {
  if (pieces.length === 1) return pieces[0]!;
  let length = 0;
  for (const piece of pieces) length += piece.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** A message with the given content type; sequence 0 until a channel assigns one. */
export function newMessage(
  contentType: number,
  headers: Map<number, Uint8Array> = new Map(),
  body: Uint8Array = EMPTY,
): Message {
  return { contentType, sequence: 0, headers, body };
}

// --- value encoders ---------------------------------------------------------------------------

export function u16Bytes(value: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, value, true);
  return b;
}
export function u32Bytes(value: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value >>> 0, true);
  return b;
}
export function i32Bytes(value: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, value, true);
  return b;
}
export function u64Bytes(value: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
  return b;
}
export function boolBytes(value: boolean): Uint8Array {
  return Uint8Array.of(value ? 1 : 0);
}
export function byteBytes(value: number): Uint8Array {
  return Uint8Array.of(value & 0xff);
}
export function stringBytes(value: string): Uint8Array {
  return utf8.encode(value);
}
/** u32 count, then u32 length + bytes per item. */
export function stringSliceBytes(values: readonly string[]): Uint8Array {
  const items = values.map((v) => utf8.encode(v));
  const out = new Uint8Array(4 + items.reduce((n, i) => n + 4 + i.length, 0));
  const view = new DataView(out.buffer);
  view.setUint32(0, items.length, true);
  let at = 4;
  for (const item of items) {
    view.setUint32(at, item.length, true);
    out.set(item, at + 4);
    at += 4 + item.length;
  }
  return out;
}

// --- value decoders ---------------------------------------------------------------------------

function fixed(id: number, value: Uint8Array, size: number): DataView {
  if (value.length !== size) {
    throw new ZitiProtocolError(
      'bad-header-value',
      `header ${id} has ${value.length} bytes, expected ${size}`,
    );
  }
  return new DataView(value.buffer, value.byteOffset, size);
}

export function decodeString(value: Uint8Array, id = -1): string {
  try {
    return utf8Decoder.decode(value);
  } catch (cause) {
    throw new ZitiProtocolError('bad-header-value', `header ${id} is not UTF-8`, { cause });
  }
}

export function decodeStringSlice(value: Uint8Array, id = -1): string[] {
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const bad = () => new ZitiProtocolError('bad-header-value', `header ${id}: bad string slice`);
  if (value.length < 4) throw bad();
  const count = view.getUint32(0, true);
  const out: string[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > value.length) throw bad();
    const len = view.getUint32(at, true);
    at += 4;
    if (len > value.length - at) throw bad();
    out.push(decodeString(value.subarray(at, at + len), id));
    at += len;
  }
  if (at !== value.length) throw bad();
  return out;
}

// --- typed header access ----------------------------------------------------------------------

export function getHeaderBytes(msg: Message, id: number): Uint8Array | undefined {
  return msg.headers.get(id);
}
export function getHeaderU16(msg: Message, id: number): number | undefined {
  const v = msg.headers.get(id);
  return v === undefined ? undefined : fixed(id, v, 2).getUint16(0, true);
}
export function getHeaderU32(msg: Message, id: number): number | undefined {
  const v = msg.headers.get(id);
  return v === undefined ? undefined : fixed(id, v, 4).getUint32(0, true);
}
export function getHeaderI32(msg: Message, id: number): number | undefined {
  const v = msg.headers.get(id);
  return v === undefined ? undefined : fixed(id, v, 4).getInt32(0, true);
}
export function getHeaderU64(msg: Message, id: number): bigint | undefined {
  const v = msg.headers.get(id);
  return v === undefined ? undefined : fixed(id, v, 8).getBigUint64(0, true);
}
export function getHeaderBool(msg: Message, id: number): boolean | undefined {
  const v = msg.headers.get(id);
  return v === undefined ? undefined : fixed(id, v, 1).getUint8(0) === 1;
}
export function getHeaderByte(msg: Message, id: number): number | undefined {
  const v = msg.headers.get(id);
  return v === undefined ? undefined : fixed(id, v, 1).getUint8(0);
}
export function getHeaderString(msg: Message, id: number): string | undefined {
  const v = msg.headers.get(id);
  return v === undefined ? undefined : decodeString(v, id);
}
export function getHeaderStringSlice(msg: Message, id: number): string[] | undefined {
  const v = msg.headers.get(id);
  return v === undefined ? undefined : decodeStringSlice(v, id);
}

export function setHeaderBytes(msg: Message, id: number, value: Uint8Array): void {
  msg.headers.set(id, value);
}
export function setHeaderU16(msg: Message, id: number, value: number): void {
  msg.headers.set(id, u16Bytes(value));
}
export function setHeaderU32(msg: Message, id: number, value: number): void {
  msg.headers.set(id, u32Bytes(value));
}
export function setHeaderI32(msg: Message, id: number, value: number): void {
  msg.headers.set(id, i32Bytes(value));
}
export function setHeaderU64(msg: Message, id: number, value: bigint): void {
  msg.headers.set(id, u64Bytes(value));
}
export function setHeaderBool(msg: Message, id: number, value: boolean): void {
  msg.headers.set(id, boolBytes(value));
}
export function setHeaderByte(msg: Message, id: number, value: number): void {
  msg.headers.set(id, byteBytes(value));
}
export function setHeaderString(msg: Message, id: number, value: string): void {
  msg.headers.set(id, stringBytes(value));
}
export function setHeaderStringSlice(msg: Message, id: number, values: readonly string[]): void {
  msg.headers.set(id, stringSliceBytes(values));
}

/** ReplyFor (header 1) or undefined when the message is not a reply. */
export function replyFor(msg: Message): number | undefined {
  return getHeaderI32(msg, 1);
}

/** A header that must be present, else a protocol error naming it. */
export function requireHeader<T>(value: T | undefined, name: string, contentType: number): T {
  if (value === undefined) {
    throw new ZitiProtocolError('missing-header', `message ${contentType} lacks header ${name}`);
  }
  return value;
}
