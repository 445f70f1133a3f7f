/**
 * Golden bytes written by hand from the reference's frame table (§2.1) and header ids (§2.2, §3.2),
 * field by field, little-endian; compared both ways with the builders and the decoder. Plus the
 * frames captured from OpenZiti's own browser client.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hex, toHex } from '../_test/fixtures.ts';
import {
  decodeBind,
  decodeDial,
  decodeDialSuccess,
  encodeBind,
  encodeDial,
  encodeDialSuccess,
} from '../edge/hosting-messages.ts';
import {
  decodeData,
  decodeStateClosed,
  decodeStateConnected,
  encodeConnect,
  encodeData,
  encodeStateClosed,
  encodeStateConnected,
} from '../edge/messages.ts';
import { ZitiProtocolError } from '../errors.ts';
import { encodeMessage, encodeMessageHead, MessageDecoder } from './codec.ts';
import { ContentType, EdgeErrorCode, EdgeFlag } from './constants.ts';
import { encodeHello, encodeHelloResult } from './hello.ts';
import {
  bodyParts,
  getHeaderBool,
  getHeaderI32,
  getHeaderString,
  joinPieces,
  type Message,
  newMessage,
  u16Bytes,
} from './message.ts';

const ascii = (s: string) => toHex(new TextEncoder().encode(s));
const KEY_A = Array.from({ length: 32 }, (_, i) => (i + 1).toString(16).padStart(2, '0')).join('');
const KEY_B = Array.from({ length: 32 }, (_, i) => (0xa0 + i).toString(16).padStart(2, '0')).join(
  '',
);
const SE_JSON = '{"message":"posture","code":15,"retryHint":3}';

/** name → [hand-written frame hex, message from our builder] */
const golden: Record<string, [string, () => Message]> = {
  Hello: [
    `0306090c 00000000 ffffffff 16000000 00000000
     ea030000 03000000 ${ascii('tok')}
     f0030000 03000000 ${ascii('ws:')}`,
    () => encodeHello({ sessionToken: 'tok', callerId: 'ws:' }),
  ],
  Result: [
    `0306090c 02000000 ffffffff 29000000 00000000
     00000000 03000000 ${ascii('ch1')}
     01000000 04000000 ffffffff
     02000000 01000000 01
     00040000 01000000 01`,
    () =>
      encodeHelloResult({
        connectionId: 'ch1',
        replyFor: -1,
        success: true,
        headers: new Map([[1024, Uint8Array.of(1)]]),
      }),
  ],
  Connect: [
    `0306090c 6fed0000 00000000 5a000000 03000000
     e8030000 04000000 01000000
     e9030000 04000000 00000000
     f3030000 09000000 ${ascii('{"a":"b"}')}
     eb030000 20000000 ${KEY_A}
     f1030000 01000000 00
     ${ascii('tok')}`,
    () =>
      encodeConnect({
        connId: 1,
        seq: 0,
        sessionToken: 'tok',
        appData: '{"a":"b"}',
        publicKey: hex(KEY_A),
      }),
  ],
  StateConnected: [
    `0306090c 70ed0000 05000000 4a000000 00000000
     e8030000 04000000 01000000
     01000000 04000000 00000000
     02040000 02000000 ${ascii('c1')}
     eb030000 20000000 ${KEY_B}`,
    () => ({
      ...encodeStateConnected({ connId: 1, replyFor: 0, circuitId: 'c1', publicKey: hex(KEY_B) }),
      sequence: 5,
    }),
  ],
  DataFin: [
    `0306090c 72ed0000 07000000 24000000 00000000
     e8030000 04000000 01000000
     e9030000 04000000 03000000
     f2030000 04000000 01000000`,
    () => ({ ...encodeData({ connId: 1, seq: 3, flags: EdgeFlag.FIN }), sequence: 7 }),
  ],
  StateClosed: [
    `0306090c 71ed0000 09000000 ${(24 + 12 + 8 + SE_JSON.length).toString(16)}000000 06000000
     e8030000 04000000 01000000
     01000000 04000000 00000000
     f6030000 04000000 0f000000
     09040000 ${SE_JSON.length.toString(16)}000000 ${ascii(SE_JSON)}
     ${ascii('denied')}`,
    () => ({
      ...encodeStateClosed({
        connId: 1,
        replyFor: 0,
        reason: 'denied',
        errorCode: EdgeErrorCode.PostureCheckFailed,
        structuredError: { message: 'posture', code: 15, retryHint: 3 },
      }),
      sequence: 9,
    }),
  ],
  Bind: [
    `0306090c 76ed0000 02000000 59000000 07000000
     e8030000 04000000 07000000
     eb030000 20000000 ${KEY_A}
     f1030000 01000000 00
     f4030000 01000000 01
     00040000 01000000 01
     ec030000 02000000 0500
     ${ascii('bindtok')}`,
    () => ({
      ...encodeBind({ connId: 7, sessionToken: 'bindtok', publicKey: hex(KEY_A), cost: 5 }),
      sequence: 2,
    }),
  ],
  Dial: [
    `0306090c 73ed0000 0b000000 57000000 07000000
     e8030000 04000000 07000000
     f4030000 04000000 ffffff7f
     f0030000 05000000 ${ascii('alice')}
     02040000 02000000 ${ascii('c9')}
     eb030000 20000000 ${KEY_B}
     ${ascii('bindtok')}`,
    () => ({
      ...encodeDial({
        connId: 7,
        newConnId: 0x7fffffff,
        sessionToken: 'bindtok',
        callerId: 'alice',
        circuitId: 'c9',
        publicKey: hex(KEY_B),
      }),
      sequence: 11,
    }),
  ],
  DialSuccess: [
    `0306090c 74ed0000 03000000 18000000 04000000
     e8030000 04000000 07000000
     01000000 04000000 0b000000
     ffffff7f`,
    () => ({
      ...encodeDialSuccess({ connId: 7, newConnId: 0x7fffffff, replyFor: 11 }),
      sequence: 3,
    }),
  ],
};

function decodeOne(bytes: Uint8Array): Message {
  const out = new MessageDecoder().push(bytes);
  expect(out).toHaveLength(1);
  return out[0]!;
}

describe('golden frames (hand-written from the reference)', () => {
  for (const [name, [frameHex, build]] of Object.entries(golden)) {
    it(`${name}: builder + encoder produce the hand-written bytes`, () => {
      expect(toHex(encodeMessage(build()))).toBe(frameHex.replace(/\s+/g, ''));
    });
    it(`${name}: decoder reads the hand-written bytes back to the same message`, () => {
      const want = build();
      const got = decodeOne(hex(frameHex));
      expect(got.contentType).toBe(want.contentType);
      expect(got.sequence).toBe(want.sequence);
      expect(got.body).toEqual(want.body);
      expect([...got.headers.keys()]).toEqual([...want.headers.keys()]);
      for (const [id, v] of want.headers) expect(got.headers.get(id)).toEqual(v);
    });
  }

  it('a frame head followed by its body is the whole frame, byte for byte', () => {
    for (const [name, [frameHex, build]] of Object.entries(golden)) {
      const msg = build();
      const whole = hex(frameHex);
      const head = encodeMessageHead(msg);
      expect(toHex(head), name).toBe(toHex(whole.subarray(0, whole.length - msg.body.length)));
      expect(toHex(msg.body), name).toBe(toHex(whole.subarray(head.length)));
    }
  });

  it('parsers read the typed fields', () => {
    const sc = decodeStateConnected(decodeOne(hex(golden.StateConnected![0])));
    expect(sc).toMatchObject({ connId: 1, replyFor: 0, circuitId: 'c1' });
    expect(toHex(sc.publicKey!)).toBe(KEY_B);
    const closed = decodeStateClosed(decodeOne(hex(golden.StateClosed![0])));
    expect(closed).toMatchObject({
      connId: 1,
      reason: 'denied',
      errorCode: 15,
      structuredError: { message: 'posture', code: 15, retryHint: 3 },
    });
    const fin = decodeData(decodeOne(hex(golden.DataFin![0])));
    expect(fin).toMatchObject({ connId: 1, seq: 3, fin: true, multipart: false });
    const bind = decodeBind(decodeOne(hex(golden.Bind![0])));
    expect(bind).toMatchObject({ connId: 7, sessionToken: 'bindtok', cryptoMethod: 0, cost: 5 });
    expect(bind.routerProvidedConnId && bind.supportsBindSuccess).toBe(true);
    const dial = decodeDial(decodeOne(hex(golden.Dial![0])));
    expect(dial).toMatchObject({
      connId: 7,
      newConnId: 0x7fffffff,
      callerId: 'alice',
      circuitId: 'c9',
    });
    const ok = decodeDialSuccess(decodeOne(hex(golden.DialSuccess![0])));
    expect(ok).toEqual({ connId: 7, newConnId: 0x7fffffff, replyFor: 11 });
    const result = decodeOne(hex(golden.Result![0]));
    expect(getHeaderString(result, 0)).toBe('ch1');
    expect(getHeaderI32(result, 1)).toBe(-1);
    expect(getHeaderBool(result, 2)).toBe(true);
  });
});

interface VectorFrame {
  name: string;
  contentType: number;
  sequence: number;
  headers: { id: number; hex: string }[];
  bodyHex: string;
  frameHex: string;
}
const vectors = JSON.parse(
  readFileSync(new URL('../_test/openziti-browser-client-frames.json', import.meta.url), 'utf8'),
) as { frames: VectorFrame[] };

describe('frames captured from OpenZiti browser client', () => {
  it('has the four frames', () => {
    expect(vectors.frames.map((f) => f.name)).toEqual(['Hello', 'Connect', 'Data', 'StateClosed']);
  });
  for (const f of vectors.frames) {
    it(`${f.name}: decodes to the recorded fields and re-encodes to the same bytes`, () => {
      const msg = decodeOne(hex(f.frameHex));
      expect(msg.contentType).toBe(f.contentType);
      expect(msg.sequence).toBe(f.sequence);
      expect(toHex(msg.body)).toBe(f.bodyHex);
      expect([...msg.headers].map(([id, v]) => ({ id, hex: toHex(v) }))).toEqual(f.headers);
      expect(toHex(encodeMessage(msg))).toBe(f.frameHex);
    });
  }
  it('our builders reproduce the captured frames byte for byte', () => {
    const [hello, connect, data, closed] = vectors.frames.map((f) => decodeOne(hex(f.frameHex)));
    const uuid = (m: Message) => m.headers.get(128)!;
    const token = new TextDecoder().decode(connect!.body);
    const built = [
      encodeHello({
        sessionToken: getHeaderString(hello!, 1002)!,
        callerId: 'ws:',
        uuid: uuid(hello!),
      }),
      {
        ...encodeConnect({
          connId: 1,
          seq: 0,
          uuid: uuid(connect!),
          appData: connect!.headers.get(1011)!,
          sessionToken: token,
        }),
        sequence: 0,
      },
      { ...encodeData({ connId: 1, seq: 1, uuid: uuid(data!), body: data!.body }), sequence: 1 },
      {
        ...encodeStateClosed({ connId: 1, seq: 2, uuid: uuid(closed!), reason: token }),
        sequence: 2,
      },
    ];
    expect(built.map((m) => toHex(encodeMessage(m)))).toEqual(
      vectors.frames.map((f) => f.frameHex),
    );
  });
});

describe('incremental decoding', () => {
  const all = [
    ...Object.values(golden).map(([h]) => hex(h)),
    ...vectors.frames.map((f) => hex(f.frameHex)),
  ];
  /** What a reader of `body` sees (a body received in pieces is joined when read). */
  const plain = ({ contentType, sequence, headers, body }: Message): Message => ({
    contentType,
    sequence,
    headers,
    body,
  });

  it('decodes every frame split at every byte boundary', () => {
    for (const frame of all) {
      const want = decodeOne(frame);
      for (let cut = 0; cut <= frame.length; cut++) {
        const d = new MessageDecoder();
        const got = [...d.push(frame.slice(0, cut)), ...d.push(frame.slice(cut))];
        expect(got.map(plain)).toEqual([want]);
        expect(joinPieces(bodyParts(got[0]!))).toEqual(want.body);
        expect(d.bufferedBytes).toBe(0);
      }
    }
  });

  it('hands a body split across chunks over as views of those chunks, joined only when read', () => {
    const body = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const frame = encodeMessage({ ...newMessage(ContentType.Data), body });
    const chunks = [frame.slice(0, 100), frame.slice(100, 250), frame.slice(250)];
    const d = new MessageDecoder();
    const [msg] = chunks.flatMap((c) => d.push(c));
    const pieces = msg!.bodyPieces!;
    expect(pieces.map((p) => p.buffer)).toEqual(chunks.map((c) => c.buffer));
    expect(pieces.map((p) => p.length)).toEqual([80, 150, 70]);
    expect(bodyParts(msg!)).toBe(pieces);
    expect(msg!.body).toEqual(body);
    expect(msg!.body).toBe(msg!.body); // joined once
    // A body inside one chunk is a plain view, without pieces.
    const whole = new MessageDecoder().push(frame)[0]!;
    expect(whole.bodyPieces).toBeUndefined();
    expect(whole.body.buffer).toBe(frame.buffer);
    expect(bodyParts(whole)).toEqual([whole.body]);
  });

  it('decodes all frames concatenated, fed in 1..7-byte slices and in one piece', () => {
    const joined = new Uint8Array(all.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of all) {
      joined.set(f, at);
      at += f.length;
    }
    const want = all.map(decodeOne);
    expect(new MessageDecoder().push(joined)).toEqual(want);
    for (let step = 1; step <= 7; step++) {
      const d = new MessageDecoder();
      const got: Message[] = [];
      for (let i = 0; i < joined.length; i += step) got.push(...d.push(joined.slice(i, i + step)));
      expect(got.map(plain)).toEqual(want);
    }
  });
});

describe('limits and malformed input', () => {
  const prefix = (ct: number, headers: number, body: number) => {
    const b = new Uint8Array(20);
    b.set([3, 6, 9, 12]);
    const v = new DataView(b.buffer);
    v.setInt32(4, ct, true);
    v.setInt32(12, headers, true);
    v.setInt32(16, body, true);
    return b;
  };
  const fault = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(ZitiProtocolError);
      return (err as ZitiProtocolError).fault;
    }
    throw new Error('did not throw');
  };

  it('rejects a bad magic', () => {
    expect(
      fault(() => new MessageDecoder().push(hex('0306090d 00000000 00000000 00000000 00000000'))),
    ).toBe('bad-magic');
  });
  it('rejects a hello over 16384 header bytes or 4192 body bytes before buffering it', () => {
    expect(fault(() => new MessageDecoder().push(prefix(0, 16385, 0)))).toBe('hello-too-large');
    expect(fault(() => new MessageDecoder().push(prefix(0, 0, 4193)))).toBe('hello-too-large');
    expect(new MessageDecoder().push(prefix(0, 0, 4192))).toEqual([]);
  });
  it('rejects any frame over the configured maximum from its prefix alone', () => {
    expect(fault(() => new MessageDecoder().push(prefix(60786, 0, 16 * 1024 * 1024 + 1)))).toBe(
      'frame-too-large',
    );
    expect(
      fault(() => new MessageDecoder({ maxFrameBytes: 100 }).push(prefix(60786, 50, 51))),
    ).toBe('frame-too-large');
    expect(fault(() => new MessageDecoder().push(prefix(60786, 0, -1)))).toBe('bad-length');
  });
  it('rejects a header entry that overruns the header section', () => {
    const frame = hex('0306090c 72ed0000 00000000 0c000000 00000000 e8030000 05000000 01000000');
    expect(fault(() => new MessageDecoder().push(frame))).toBe('bad-headers');
  });
  it('stays failed after an error', () => {
    const d = new MessageDecoder();
    expect(() => d.push(hex('00'.repeat(20)))).toThrow(ZitiProtocolError);
    expect(() => d.push(hex(golden.Hello![0]))).toThrow(ZitiProtocolError);
  });
  it('typed getters reject wrong-size values', () => {
    const m = decodeOne(hex(golden.DataFin![0]));
    m.headers.set(1000, u16Bytes(1));
    expect(() => decodeData(m)).toThrow(ZitiProtocolError);
  });
});
