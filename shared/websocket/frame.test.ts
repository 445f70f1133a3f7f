import { describe, expect, it } from 'vitest';
import { Opcode } from './constants.ts';
import { applyMask, encodeClosePayload, encodeFrame } from './frame.ts';

const hex = (s: string) => Uint8Array.from(s.split(/\s+/).filter(Boolean), (b) => parseInt(b, 16));
const hello = new TextEncoder().encode('Hello');
const rfcMask = hex('37 fa 21 3d');

// Golden bytes: RFC 6455 §5.7 examples.
describe('encodeFrame (RFC 6455 §5.7)', () => {
  it('single-frame unmasked text', () => {
    expect(encodeFrame({ opcode: Opcode.Text, payload: hello })).toEqual(
      hex('81 05 48 65 6c 6c 6f'),
    );
  });
  it('single-frame masked text', () => {
    expect(encodeFrame({ opcode: Opcode.Text, payload: hello, maskKey: rfcMask })).toEqual(
      hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'),
    );
  });
  it('fragmented unmasked text', () => {
    const enc = new TextEncoder();
    expect(encodeFrame({ opcode: Opcode.Text, fin: false, payload: enc.encode('Hel') })).toEqual(
      hex('01 03 48 65 6c'),
    );
    expect(encodeFrame({ opcode: Opcode.Continuation, payload: enc.encode('lo') })).toEqual(
      hex('80 02 6c 6f'),
    );
  });
  it('ping and masked pong', () => {
    expect(encodeFrame({ opcode: Opcode.Ping, payload: hello })).toEqual(
      hex('89 05 48 65 6c 6c 6f'),
    );
    expect(encodeFrame({ opcode: Opcode.Pong, payload: hello, maskKey: rfcMask })).toEqual(
      hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'),
    );
  });
  it('256 bytes and 64 KiB binary use 16- and 64-bit lengths', () => {
    const a = encodeFrame({ opcode: Opcode.Binary, payload: new Uint8Array(256) });
    expect(a.subarray(0, 4)).toEqual(hex('82 7e 01 00'));
    expect(a.length).toBe(260);
    const b = encodeFrame({ opcode: Opcode.Binary, payload: new Uint8Array(65536) });
    expect(b.subarray(0, 10)).toEqual(hex('82 7f 00 00 00 00 00 01 00 00'));
    expect(b.length).toBe(65546);
    // Boundaries: 125 fits in 7 bits, 126 and 65535 take 16 bits.
    expect(encodeFrame({ opcode: Opcode.Binary, payload: new Uint8Array(125) })[1]).toBe(125);
    expect(encodeFrame({ opcode: Opcode.Binary, payload: new Uint8Array(126) })[1]).toBe(126);
    expect(encodeFrame({ opcode: Opcode.Binary, payload: new Uint8Array(65535) })[1]).toBe(126);
  });
  it('does not modify the payload when masking', () => {
    const p = hello.slice();
    encodeFrame({ opcode: Opcode.Binary, payload: p, maskKey: rfcMask });
    expect(p).toEqual(hello);
  });
  it('refuses oversized or fragmented control frames and bad mask keys', () => {
    expect(() => encodeFrame({ opcode: Opcode.Ping, payload: new Uint8Array(126) })).toThrow();
    expect(() => encodeFrame({ opcode: Opcode.Close, fin: false, payload: hello })).toThrow();
    expect(() =>
      encodeFrame({ opcode: Opcode.Text, payload: hello, maskKey: new Uint8Array(3) }),
    ).toThrow();
  });
});

describe('applyMask', () => {
  it('matches a byte-wise XOR at every offset and alignment', () => {
    const mask = hex('01 23 45 67');
    const buf = new Uint8Array(64 + 8);
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 37) & 0xff;
    for (let start = 0; start < 4; start++) {
      for (let offset = 0; offset < 4; offset++) {
        for (const len of [0, 1, 3, 4, 5, 17, 64]) {
          const data = buf.slice().subarray(start, start + len);
          const expected = Uint8Array.from(data, (b, i) => b ^ (mask[(offset + i) & 3] as number));
          applyMask(data, mask, offset);
          expect(data).toEqual(expected);
        }
      }
    }
  });
});

describe('encodeClosePayload', () => {
  it('code and reason, or nothing', () => {
    expect(encodeClosePayload(1000, 'bye')).toEqual(hex('03 e8 62 79 65'));
    expect(encodeClosePayload()).toEqual(new Uint8Array(0));
    expect(encodeClosePayload(4999)).toEqual(hex('13 87'));
  });
  it('refuses reserved codes and long reasons', () => {
    for (const c of [999, 1004, 1005, 1006, 1015, 2999, 5000]) {
      if (c === 1005) continue; // 1005 means "no code": encoded as an empty payload
      expect(() => encodeClosePayload(c)).toThrow(RangeError);
    }
    expect(() => encodeClosePayload(1000, 'x'.repeat(124))).toThrow(RangeError);
    expect(() => encodeClosePayload(1000, 'é'.repeat(62))).toThrow(RangeError);
    expect(encodeClosePayload(1000, 'x'.repeat(123)).length).toBe(125);
  });
});
