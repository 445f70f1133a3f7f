import { describe, expect, it } from 'vitest';
import {
  decodeInnerPlaintext,
  encodeInnerPlaintext,
  encodePlaintextRecord,
  encodeRecordHeader,
  RecordReader,
} from './record.ts';

const stream = () => {
  const a = encodePlaintextRecord(22, new Uint8Array([1, 2, 3]));
  const b = encodePlaintextRecord(23, new Uint8Array(300).fill(7));
  const c = encodePlaintextRecord(21, new Uint8Array([2, 40]));
  const all = new Uint8Array(a.length + b.length + c.length);
  all.set(a);
  all.set(b, a.length);
  all.set(c, a.length + b.length);
  return all;
};

describe('RecordReader', () => {
  it('yields the same records for every split of the stream into two and into single bytes', () => {
    const all = stream();
    const expectRecords = (reader: RecordReader) => {
      const out = [];
      for (let r = reader.next(); r; r = reader.next()) out.push([r.type, r.fragment.length]);
      return out;
    };
    for (let cut = 0; cut <= all.length; cut++) {
      const reader = new RecordReader();
      const got: number[][] = [];
      reader.push(all.subarray(0, cut));
      got.push(...expectRecords(reader));
      reader.push(all.subarray(cut));
      got.push(...expectRecords(reader));
      expect(got).toEqual([
        [22, 3],
        [23, 300],
        [21, 2],
      ]);
    }
    const reader = new RecordReader();
    const got: number[][] = [];
    for (const byte of all) {
      reader.push(new Uint8Array([byte]));
      got.push(...expectRecords(reader));
    }
    expect(got).toHaveLength(3);
    expect(reader.bufferedBytes).toBe(0);
  });

  it('rejects oversized records from their header alone', () => {
    const reader = new RecordReader();
    reader.push(encodeRecordHeader(23, (1 << 14) + 257));
    expect(() => reader.next()).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_RECORD_OVERFLOW', alert: 22 }),
    );
    const plain = new RecordReader();
    plain.push(encodeRecordHeader(22, (1 << 14) + 1));
    expect(() => plain.next()).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_RECORD_OVERFLOW' }),
    );
    const ok = new RecordReader();
    ok.push(encodeRecordHeader(23, (1 << 14) + 256));
    expect(ok.next()).toBeUndefined(); // legal length, waits for the body
  });

  it('rejects unknown record types', () => {
    const reader = new RecordReader();
    reader.push(new Uint8Array([99, 3, 3, 0, 1, 0]));
    expect(() => reader.next()).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_UNEXPECTED_MESSAGE', alert: 10 }),
    );
  });
});

describe('TLSInnerPlaintext', () => {
  it('strips zero padding and finds the content type', () => {
    const inner = encodeInnerPlaintext(new Uint8Array([5, 0, 6]), 23, 10);
    expect(inner).toHaveLength(14);
    const { type, content } = decodeInnerPlaintext(inner);
    expect(type).toBe(23);
    expect(content).toEqual(new Uint8Array([5, 0, 6]));
    expect(() => decodeInnerPlaintext(new Uint8Array(8))).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_UNEXPECTED_MESSAGE' }),
    );
  });
});
