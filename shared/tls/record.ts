/** The TLS record layer framing (RFC 8446 §5): a parser over a byte queue, and pure encoders. */
import {
  AlertDescription,
  ContentType,
  MAX_CIPHERTEXT,
  MAX_PLAINTEXT,
  RECORD_HEADER_LENGTH,
} from './constants.ts';
import { TlsProtocolError, unexpectedMessage } from './errors.ts';

export interface TlsRecord {
  readonly type: number;
  /** The 5-byte header: the additional data of an encrypted record. */
  readonly header: Uint8Array;
  readonly fragment: Uint8Array;
}

export const recordOverflow = (what: string) =>
  new TlsProtocolError('ERR_TLS_RECORD_OVERFLOW', `${what} exceeds the record size limit`, {
    alert: AlertDescription.recordOverflow,
  });

/**
 * Splits a byte stream, sliced anyhow, into records. Never copies a record that sits inside one
 * chunk; checks type and length as soon as the header is complete.
 */
export class RecordReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  push(chunk: Uint8Array) {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  get bufferedBytes() {
    return this.buffered;
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let filled = 0;
    for (const c of this.chunks) {
      const take = Math.min(c.length, n - filled);
      out.set(c.subarray(0, take), filled);
      filled += take;
      if (filled === n) break;
    }
    return out;
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[0]!;
    this.buffered -= n;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length, n - filled);
      out.set(c.subarray(0, take), filled);
      filled += take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    return out;
  }

  /** The next complete record, or undefined when more bytes are needed. */
  next(): TlsRecord | undefined {
    if (this.buffered < RECORD_HEADER_LENGTH) return undefined;
    const h = this.peek(RECORD_HEADER_LENGTH);
    const type = h[0]!;
    if (
      type !== ContentType.applicationData &&
      type !== ContentType.handshake &&
      type !== ContentType.alert &&
      type !== ContentType.changeCipherSpec
    ) {
      throw unexpectedMessage(`record type ${type}`);
    }
    const length = (h[3]! << 8) | h[4]!;
    if (length > MAX_CIPHERTEXT) throw recordOverflow(`record of ${length} bytes`);
    if (type !== ContentType.applicationData && length > MAX_PLAINTEXT) {
      throw recordOverflow(`plaintext record of ${length} bytes`);
    }
    if (this.buffered < RECORD_HEADER_LENGTH + length) return undefined;
    const record = this.take(RECORD_HEADER_LENGTH + length);
    return {
      type,
      header: record.subarray(0, RECORD_HEADER_LENGTH),
      fragment: record.subarray(RECORD_HEADER_LENGTH),
    };
  }
}

/** A record header; `legacyVersion` is 0x0301 only for the first ClientHello (RFC 8446 §5.1). */
export const encodeRecordHeader = (type: number, length: number, legacyVersion = 0x0303) =>
  new Uint8Array([type, legacyVersion >>> 8, legacyVersion & 0xff, length >>> 8, length & 0xff]);

/** An unprotected record (ClientHello, or an alert before keys exist). */
export const encodePlaintextRecord = (
  type: number,
  fragment: Uint8Array,
  legacyVersion = 0x0303,
) => {
  const out = new Uint8Array(RECORD_HEADER_LENGTH + fragment.length);
  out.set(encodeRecordHeader(type, fragment.length, legacyVersion));
  out.set(fragment, RECORD_HEADER_LENGTH);
  return out;
};

/** TLSInnerPlaintext (RFC 8446 §5.2): content || type || zero padding. */
export const encodeInnerPlaintext = (content: Uint8Array, type: number, padding = 0) => {
  const out = new Uint8Array(content.length + 1 + padding);
  out.set(content);
  out[content.length] = type;
  return out;
};

/** Strips the padding and returns the real content type; all-zero is unexpected_message. */
export const decodeInnerPlaintext = (plaintext: Uint8Array) => {
  let i = plaintext.length - 1;
  while (i >= 0 && plaintext[i] === 0) i--;
  if (i < 0) throw unexpectedMessage('record with no content type');
  if (i > MAX_PLAINTEXT) throw recordOverflow('decrypted record');
  return { type: plaintext[i]!, content: plaintext.subarray(0, i) };
};
