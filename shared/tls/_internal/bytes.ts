import { decodeError } from '../errors.ts';

export const concat = (parts: readonly Uint8Array[]): Uint8Array => {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
};

export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
};

export const utf8 = (s: string) => new TextEncoder().encode(s);

/** Builds a message; `vector(n, fn)` writes an n-byte length prefix around what `fn` writes. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private reserve(n: number) {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  u8(v: number): this {
    this.reserve(1);
    this.buf[this.len++] = v;
    return this;
  }
  u16(v: number): this {
    this.reserve(2);
    this.buf[this.len++] = v >>> 8;
    this.buf[this.len++] = v & 0xff;
    return this;
  }
  u24(v: number): this {
    this.reserve(3);
    this.buf[this.len++] = v >>> 16;
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }
  vector(lengthBytes: 1 | 2 | 3, fn: (w: this) => void): this {
    this.reserve(lengthBytes);
    const at = this.len;
    this.len += lengthBytes;
    fn(this);
    const n = this.len - at - lengthBytes;
    if (n >= 2 ** (8 * lengthBytes)) throw new RangeError('vector too long');
    for (let i = lengthBytes - 1; i >= 0; i--)
      this.buf[at + lengthBytes - 1 - i] = (n >>> (8 * i)) & 0xff;
    return this;
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Reads a message; every read past the end throws a decode_error TlsError naming `what`. */
export class ByteReader {
  private pos = 0;
  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  get remaining() {
    return this.buf.length - this.pos;
  }
  private need(n: number) {
    if (this.pos + n > this.buf.length) throw decodeError(this.what);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  u24(): number {
    this.need(3);
    const v =
      (this.buf[this.pos]! << 16) | (this.buf[this.pos + 1]! << 8) | this.buf[this.pos + 2]!;
    this.pos += 3;
    return v;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  vector(lengthBytes: 1 | 2 | 3): Uint8Array {
    const n = lengthBytes === 1 ? this.u8() : lengthBytes === 2 ? this.u16() : this.u24();
    return this.bytes(n);
  }
  /** Reads a length-prefixed vector as its own reader. */
  sub(lengthBytes: 1 | 2 | 3): ByteReader {
    return new ByteReader(this.vector(lengthBytes), this.what);
  }
  end() {
    if (this.pos !== this.buf.length) throw decodeError(this.what);
  }
}
