import { describe, expect, it } from 'vitest';
import {
  DerError,
  DerReader,
  decodeBoolean,
  decodeOid,
  decodeSmallInteger,
  decodeTime,
  encode,
  encodeOid,
  encodeSmallInteger,
  readOne,
  Tag,
} from './der.ts';

const bytes = (...b: number[]) => new Uint8Array(b);
const hex = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

describe('DerReader', () => {
  it('reads nested elements, their contents and raw bytes', () => {
    // SEQUENCE { INTEGER 5, OCTET STRING 'ab' }
    const der = bytes(0x30, 0x07, 0x02, 0x01, 0x05, 0x04, 0x02, 0x61, 0x62);
    const outer = readOne(der, 'test', Tag.sequence);
    expect(outer.raw).toEqual(der);
    const r = new DerReader(outer.value, 'test');
    expect(r.peekTag()).toBe(Tag.integer);
    expect(decodeSmallInteger(r.read(Tag.integer).value)).toBe(5);
    expect(r.optional(Tag.boolean)).toBeUndefined();
    expect(r.read(Tag.octetString).value).toEqual(bytes(0x61, 0x62));
    expect(r.done).toBe(true);
    r.end();
  });

  it('reads long-form lengths', () => {
    const content = new Uint8Array(300).fill(7);
    const der = encode(Tag.octetString, content);
    expect([...der.subarray(0, 4)]).toEqual([0x04, 0x82, 0x01, 0x2c]);
    expect(readOne(der, 't').value).toEqual(content);
  });

  it.each([
    ['empty input', bytes(), /ends where an element was expected/],
    ['truncated length', bytes(0x30), /ends inside the length/],
    ['truncated long length', bytes(0x30, 0x82, 0x01), /ends inside the length/],
    ['content past the end', bytes(0x04, 0x03, 0x61), /runs past the end/],
    ['indefinite length', bytes(0x30, 0x80, 0x00, 0x00), /indefinite length/],
    ['long form for a short length', bytes(0x04, 0x81, 0x01, 0x61), /long form for a short length/],
    ['leading zero in a length', bytes(0x04, 0x82, 0x00, 0x01, 0x61), /leading zero/],
    ['five-byte length', bytes(0x04, 0x85, 1, 0, 0, 0, 0), /length of 5 bytes/],
    ['multi-byte tag', bytes(0x1f, 0x81, 0x00, 0x00), /multi-byte tag/],
    ['trailing bytes', bytes(0x05, 0x00, 0x00), /1 trailing bytes/],
    ['wrong tag', bytes(0x31, 0x00), /tag 0x31 at byte 0, expected 0x30/, Tag.sequence],
  ])('rejects %s', (_, der, message, tag?: number) => {
    const run = () => readOne(der, 'thing', tag);
    expect(run).toThrow(DerError);
    expect(run).toThrow(message);
    expect(run).toThrow(/^thing: /);
  });
});

describe('values', () => {
  it('decodes and encodes OBJECT IDENTIFIERs like the reference', () => {
    // ecdsa-with-SHA256 and a large arc, both from X.690's encoding rules.
    for (const [oid, der] of [
      ['1.2.840.10045.4.3.2', '06082a8648ce3d040302'],
      ['2.5.29.37.0', '0604551d2500'],
      ['2.999.3', '0603883703'],
      ['1.3.6.1.4.1.311.21.20', '06092b0601040182371514'],
    ] as const) {
      expect(Buffer.from(encodeOid(oid)).toString('hex')).toBe(der);
      expect(decodeOid(readOne(hex(der), 'oid', Tag.oid).value)).toBe(oid);
    }
    expect(() => decodeOid(bytes())).toThrow(/empty/);
    expect(() => decodeOid(bytes(0x2a, 0x86))).toThrow(/ends inside an arc/);
    expect(() => decodeOid(bytes(0x2a, 0x80, 0x01))).toThrow(/leading zero/);
  });

  it('decodes and encodes small INTEGERs strictly', () => {
    for (const n of [0, 1, 127, 128, 255, 256, 65535, 2 ** 31]) {
      const der = encodeSmallInteger(n);
      expect(decodeSmallInteger(readOne(der, 'int', Tag.integer).value)).toBe(n);
    }
    expect(Buffer.from(encodeSmallInteger(128)).toString('hex')).toBe('02020080');
    expect(() => decodeSmallInteger(bytes(0x00, 0x05))).toThrow(/minimally/);
    expect(() => decodeSmallInteger(bytes(0x80))).toThrow(/negative/);
    expect(() => decodeSmallInteger(bytes())).toThrow(/range/);
  });

  it('decodes DER booleans only', () => {
    expect(decodeBoolean(bytes(0xff))).toBe(true);
    expect(decodeBoolean(bytes(0x00))).toBe(false);
    expect(() => decodeBoolean(bytes(0x01))).toThrow(/not DER/);
  });

  it('decodes UTCTime and GeneralizedTime as a certificate parser does', () => {
    const time = (tag: number, s: string) =>
      decodeTime({ tag, value: Buffer.from(s), raw: bytes() });
    expect(time(Tag.utcTime, '491231235959Z').toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(time(Tag.utcTime, '500101000000Z').toISOString()).toBe('1950-01-01T00:00:00.000Z');
    expect(time(Tag.generalizedTime, '20500101000000Z').toISOString()).toBe(
      '2050-01-01T00:00:00.000Z',
    );
    for (const bad of [
      '4912312359Z',
      '491231235959',
      '491231235959+0100',
      '490230000000Z',
      '491231246000Z',
    ])
      expect(() => time(Tag.utcTime, bad)).toThrow(DerError);
    expect(() => time(Tag.generalizedTime, '20500101000000.5Z')).toThrow(DerError);
    expect(() => time(Tag.octetString, '491231235959Z')).toThrow(DerError);
  });
});
