import { describe, expect, it } from 'vitest';
import { Opcode } from './constants.ts';
import type { WebSocketProtocolError } from './errors.ts';
import { encodeFrame } from './frame.ts';
import { type DecodedEvent, FrameDecoder, type FrameDecoderOptions } from './frame-decoder.ts';

const hex = (s: string) => Uint8Array.from(s.split(/\s+/).filter(Boolean), (b) => parseInt(b, 16));
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** RFC 6455 §5.7 frames (server to client, unmasked), one after another. */
const stream = cat(
  hex('81 05 48 65 6c 6c 6f'), // "Hello"
  hex('01 03 48 65 6c'), // "Hel"
  hex('89 05 48 65 6c 6c 6f'), // ping "Hello" between fragments
  hex('80 02 6c 6f'), // "lo"
  hex('82 7e 01 00'),
  new Uint8Array(256).fill(7),
  hex('8a 00'), // empty pong
  hex('81 00'), // empty text
  hex('02 00 80 00'), // empty binary in two empty fragments
  hex('88 05 03 e8 62 79 65'), // close 1000 "bye"
);
const expected: DecodedEvent[] = [
  { type: 'text', data: 'Hello' },
  { type: 'ping', data: new TextEncoder().encode('Hello') },
  { type: 'text', data: 'Hello' },
  { type: 'binary', data: new Uint8Array(256).fill(7) },
  { type: 'pong', data: new Uint8Array(0) },
  { type: 'text', data: '' },
  { type: 'binary', data: new Uint8Array(0) },
  { type: 'close', code: 1000, reason: 'bye' },
];

function decodeSplit(bytes: Uint8Array, cuts: number[], options?: FrameDecoderOptions) {
  const d = new FrameDecoder(options);
  const out: DecodedEvent[] = [];
  let last = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(...d.push(bytes.subarray(last, c)));
    last = c;
  }
  return out;
}

function protocolError(bytes: Uint8Array, options?: FrameDecoderOptions): WebSocketProtocolError {
  try {
    new FrameDecoder(options).push(bytes);
  } catch (e) {
    return e as WebSocketProtocolError;
  }
  throw new Error('no error');
}

describe('FrameDecoder', () => {
  it('decodes the RFC examples in one chunk', () => {
    expect(decodeSplit(stream, [])).toEqual(expected);
  });

  it('gives the same result with the input split at every byte boundary', () => {
    for (let i = 1; i < stream.length; i++) expect(decodeSplit(stream, [i])).toEqual(expected);
  });

  it('gives the same result fed one byte at a time', () => {
    const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    expect(decodeSplit(stream, cuts)).toEqual(expected);
  });

  it('reassembles UTF-8 split inside a code point across fragments and chunks', () => {
    const text = 'a€😀ü';
    const bytes = new TextEncoder().encode(text);
    const frames = cat(
      encodeFrame({ opcode: Opcode.Text, fin: false, payload: bytes.subarray(0, 2) }),
      encodeFrame({ opcode: Opcode.Continuation, fin: false, payload: bytes.subarray(2, 6) }),
      encodeFrame({ opcode: Opcode.Continuation, payload: bytes.subarray(6) }),
    );
    for (let i = 0; i <= frames.length; i++) {
      expect(decodeSplit(frames, [i])).toEqual([{ type: 'text', data: text }]);
    }
  });

  it('decodes 64-bit lengths and masked frames in the server role', () => {
    const payload = new Uint8Array(70000).map((_, i) => i & 0xff);
    const masked = encodeFrame({ opcode: Opcode.Binary, payload, maskKey: hex('01 02 03 04') });
    for (const cut of [1, 2, 9, 10, 13, 14, 15, 5000, masked.length - 1]) {
      expect(decodeSplit(masked, [cut], { role: 'server' })).toEqual([
        { type: 'binary', data: payload },
      ]);
    }
  });

  it('rejects masking in the wrong direction (1002)', () => {
    const m = encodeFrame({
      opcode: Opcode.Text,
      payload: new Uint8Array(1),
      maskKey: hex('1 2 3 4'),
    });
    expect(protocolError(m).closeCode).toBe(1002);
    expect(protocolError(hex('81 00'), { role: 'server' }).closeCode).toBe(1002);
  });

  it.each([
    ['reserved bit RSV1', 'c1 00'],
    ['reserved bit RSV2', 'a1 00'],
    ['reserved bit RSV3', '91 00'],
    ['reserved data opcode 3', '83 00'],
    ['reserved control opcode B', '8b 00'],
    ['fragmented ping', '09 00'],
    ['ping longer than 125', '89 7e 00 7e'],
    ['continuation first', '80 00'],
    ['text inside a fragmented message', '01 00 81 00'],
    ['1-byte close payload', '88 01 03'],
    ['close code 1005 on the wire', '88 02 03 ed'],
    ['close code 999', '88 02 03 e7'],
    ['close code 2999', '88 02 0b b7'],
    ['close code 5000', '88 02 13 88'],
    ['64-bit length with the top bit', '82 7f 80 00 00 00 00 00 00 00'],
    ['data after close', '88 00 81 00'],
  ])('rejects %s with 1002', (_name, bytes) => {
    const e = protocolError(hex(bytes));
    expect(e.closeCode).toBe(1002);
    expect(e.name).toBe('WebSocketProtocolError');
  });

  it('rejects invalid UTF-8 in text with 1007 as soon as it arrives', () => {
    // 0xC0 0x80 is an overlong encoding: invalid at the second byte, before the frame ends.
    const d = new FrameDecoder();
    expect(() => d.push(hex('01 04 c0 80'))).toThrow(expect.objectContaining({ closeCode: 1007 }));
    expect(protocolError(hex('81 02 ed a0')).closeCode).toBe(1007); // truncated surrogate
    expect(protocolError(hex('88 04 03 e8 ff fe')).closeCode).toBe(1007); // close reason
    // A code point cut at the end of the message is invalid too.
    expect(protocolError(hex('81 01 e2')).closeCode).toBe(1007);
  });

  it('enforces the message size limit over all fragments (1009)', () => {
    const opts = { maxMessageSize: 10 };
    expect(decodeSplit(hex('82 0a 00 00 00 00 00 00 00 00 00 00'), [], opts)).toHaveLength(1);
    expect(protocolError(hex('82 0b'), opts).closeCode).toBe(1009);
    const frag = cat(
      encodeFrame({ opcode: Opcode.Binary, fin: false, payload: new Uint8Array(6) }),
      encodeFrame({ opcode: Opcode.Continuation, payload: new Uint8Array(5) }),
    );
    expect(protocolError(frag, opts).closeCode).toBe(1009);
    // The check happens on the header: no need to receive the payload first.
    expect(protocolError(hex('82 7f 00 00 00 01 00 00 00 00')).closeCode).toBe(1009);
  });

  it('accepts every valid close code and an empty close', () => {
    for (const code of [
      1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
    ]) {
      const [ev] = new FrameDecoder().push(
        hex(`88 02 ${(code >> 8).toString(16)} ${(code & 255).toString(16)}`),
      );
      expect(ev).toEqual({ type: 'close', code, reason: '' });
    }
    expect(new FrameDecoder().push(hex('88 00'))).toEqual([
      { type: 'close', code: undefined, reason: '' },
    ]);
  });

  it('stays failed after an error', () => {
    const d = new FrameDecoder();
    expect(() => d.push(hex('83 00'))).toThrow();
    expect(() => d.push(hex('81 00'))).toThrow();
  });
});
