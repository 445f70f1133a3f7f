/**
 * Strict DER (ITU-T X.690 §8, §10): reading TLVs without building an object tree, and writing the
 * few shapes the product emits. Definite, minimally encoded lengths only; single-byte tags only
 * (X.509, PKCS#7 and PKCS#10 use no others); a reader's bytes must be consumed exactly.
 *
 * Why not a general ASN.1 library: their schema registries run at module load, which cost every
 * start of the service worker tens of milliseconds (`bench/README.md`), for structures this small.
 */

/** A malformed DER structure; `message` says what and where. */
export class DerError extends Error {
  readonly code = 'ERR_DER';
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

/** Universal tags used by the product. */
export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Context-specific tag `n`: constructed (`[n] EXPLICIT`, `[n] IMPLICIT SEQUENCE`) or primitive. */
export const contextTag = (n: number, constructed: boolean) => (constructed ? 0xa0 : 0x80) | n;

/** One element: its tag, its contents, and all of its bytes (tag and length included). */
export interface Tlv {
  tag: number;
  value: Uint8Array;
  raw: Uint8Array;
}

/** Reads consecutive elements of `bytes`; `what` names the structure in errors. */
export class DerReader {
  readonly #bytes: Uint8Array;
  readonly #what: string;
  #pos = 0;

  constructor(bytes: Uint8Array, what: string) {
    this.#bytes = bytes;
    this.#what = what;
  }

  get done(): boolean {
    return this.#pos >= this.#bytes.length;
  }

  /** The next element's tag, or undefined at the end. */
  peekTag(): number | undefined {
    return this.#bytes[this.#pos];
  }

  /** The next element; with `tag`, it must have that tag. */
  read(tag?: number): Tlv {
    const b = this.#bytes;
    const start = this.#pos;
    const first = b[start];
    if (first === undefined) throw this.#fail(`ends where an element was expected`);
    if ((first & 0x1f) === 0x1f) throw this.#fail(`multi-byte tag at byte ${start}`);
    if (tag !== undefined && first !== tag)
      throw this.#fail(
        `tag 0x${first.toString(16)} at byte ${start}, expected 0x${tag.toString(16)}`,
      );
    let pos = start + 1;
    let length = b[pos++];
    if (length === undefined) throw this.#fail(`ends inside the length at byte ${start}`);
    if (length & 0x80) {
      const n = length & 0x7f;
      if (n === 0) throw this.#fail(`indefinite length at byte ${start}`);
      if (n > 4) throw this.#fail(`length of ${n} bytes at byte ${start}`);
      if (b[pos] === 0) throw this.#fail(`length with a leading zero at byte ${start}`);
      length = 0;
      for (let i = 0; i < n; i++) {
        const x = b[pos++];
        if (x === undefined) throw this.#fail(`ends inside the length at byte ${start}`);
        length = length * 256 + x;
      }
      if (length < 0x80) throw this.#fail(`long form for a short length at byte ${start}`);
    }
    const end = pos + length;
    if (end > b.length) throw this.#fail(`element at byte ${start} runs past the end`);
    this.#pos = end;
    return { tag: first, value: b.subarray(pos, end), raw: b.subarray(start, end) };
  }

  /** The next element if it has `tag`, else nothing is read. */
  optional(tag: number): Tlv | undefined {
    return this.peekTag() === tag ? this.read(tag) : undefined;
  }

  /** A reader over the contents of the next element (by default a SEQUENCE). */
  enter(tag: number = Tag.sequence, what = this.#what): DerReader {
    return new DerReader(this.read(tag).value, what);
  }

  /** Every byte must have been read. */
  end(): void {
    if (!this.done) throw this.#fail(`has ${this.#bytes.length - this.#pos} trailing bytes`);
  }

  #fail(problem: string): DerError {
    return new DerError(`${this.#what}: ${problem}`);
  }
}

/** A whole buffer holding exactly one element. */
export function readOne(bytes: Uint8Array, what: string, tag?: number): Tlv {
  const reader = new DerReader(bytes, what);
  const tlv = reader.read(tag);
  reader.end();
  return tlv;
}

/** OBJECT IDENTIFIER contents as dotted decimal. */
export function decodeOid(value: Uint8Array): string {
  if (value.length === 0) throw new DerError('empty OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const x = value[i]!;
    if (n === 0 && x === 0x80) throw new DerError('OBJECT IDENTIFIER arc with a leading zero');
    n = n * 128 + (x & 0x7f);
    if (n > Number.MAX_SAFE_INTEGER / 128) throw new DerError('OBJECT IDENTIFIER arc too large');
    if (!(x & 0x80)) {
      arcs.push(n);
      n = 0;
    } else if (i === value.length - 1) {
      throw new DerError('OBJECT IDENTIFIER ends inside an arc');
    }
  }
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

/** INTEGER contents of any size: minimally encoded, and with `positive` greater than zero. */
export function checkInteger(value: Uint8Array, what: string, positive: boolean): void {
  if (value.length === 0) throw new DerError(`${what}: empty INTEGER`);
  if (
    value.length > 1 &&
    ((value[0] === 0 && !(value[1]! & 0x80)) || (value[0] === 0xff && value[1]! & 0x80))
  )
    throw new DerError(`${what}: INTEGER not minimally encoded`);
  if (positive && (value[0]! & 0x80 || (value.length === 1 && value[0] === 0)))
    throw new DerError(`${what}: INTEGER not positive`);
}

/** A non-negative INTEGER below 2^32 (versions, path lengths). */
export function decodeSmallInteger(value: Uint8Array): number {
  if (value.length === 0 || value.length > 5 || (value.length === 5 && value[0] !== 0))
    throw new DerError('INTEGER out of range');
  if (value[0]! & 0x80) throw new DerError('negative INTEGER');
  checkInteger(value, 'INTEGER', false);
  return value.reduce((n, x) => n * 256 + x, 0);
}

/** BOOLEAN contents (DER: 0x00 or 0xff). */
export function decodeBoolean(value: Uint8Array): boolean {
  if (value.length !== 1 || (value[0] !== 0 && value[0] !== 0xff))
    throw new DerError('BOOLEAN not DER');
  return value[0] === 0xff;
}

/** BIT STRING contents of whole bytes (keys, signatures): the bits after the unused-bits count. */
export function decodeOctetAlignedBits(value: Uint8Array): Uint8Array {
  if (value[0] !== 0) throw new DerError('BIT STRING with unused bits where whole bytes belong');
  return value.subarray(1);
}

/** UTCTime (years 1950-2049) or GeneralizedTime, DER form: seconds present, `Z`, no fraction. */
export function decodeTime(tlv: Tlv): Date {
  const text = String.fromCharCode(...tlv.value);
  const m =
    tlv.tag === Tag.utcTime
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : tlv.tag === Tag.generalizedTime
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
        : null;
  if (!m) throw new DerError(`not a DER time: ${JSON.stringify(text)}`);
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fullYear = tlv.tag === Tag.utcTime ? (year < 50 ? 2000 + year : 1900 + year) : year;
  const ms = Date.UTC(fullYear, month - 1, day, hour, minute, second);
  const d = new Date(ms);
  if (
    month < 1 ||
    d.getUTCFullYear() !== fullYear ||
    d.getUTCMonth() !== month - 1 ||
    d.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  )
    throw new DerError(`not a valid date: ${text}`);
  return d;
}

// ---- writing ----

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) out.unshift(x & 0xff);
  return [0x80 | out.length, ...out];
}

/** One element: `tag` around the concatenation of `contents`. */
export function encode(tag: number, ...contents: Uint8Array[]): Uint8Array {
  const length = contents.reduce((n, c) => n + c.length, 0);
  const head = [tag, ...lengthBytes(length)];
  const out = new Uint8Array(head.length + length);
  out.set(head);
  let at = head.length;
  for (const c of contents) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** An OBJECT IDENTIFIER element from dotted decimal. */
export function encodeOid(oid: string): Uint8Array {
  const arcs = oid.split('.').map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0) || arcs[0]! > 2)
    throw new DerError(`not an OBJECT IDENTIFIER: ${oid}`);
  const out: number[] = [];
  for (const arc of [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]) {
    const groups = [arc & 0x7f];
    for (let x = Math.floor(arc / 128); x > 0; x = Math.floor(x / 128))
      groups.unshift(0x80 | (x & 0x7f));
    out.push(...groups);
  }
  return encode(Tag.oid, new Uint8Array(out));
}

/** A small non-negative INTEGER element. */
export function encodeSmallInteger(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) throw new DerError(`INTEGER ${n}`);
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  if (bytes.length === 0 || bytes[0]! & 0x80) bytes.unshift(0);
  return encode(Tag.integer, new Uint8Array(bytes));
}

/** A UTF8String element. */
export const encodeUtf8String = (s: string) => encode(Tag.utf8String, new TextEncoder().encode(s));

/** A BIT STRING element of whole bytes. */
export const encodeBits = (bytes: Uint8Array) => encode(Tag.bitString, new Uint8Array([0]), bytes);
