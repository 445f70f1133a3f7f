/** Property tests: whatever bytes arrive, the decoder and parsers throw only ZitiProtocolError and stay within limits. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeBind,
  decodeDial,
  decodeDialFailed,
  decodeDialSuccess,
} from '../edge/hosting-messages.ts';
import {
  decodeConnect,
  decodeData,
  decodeStateClosed,
  decodeStateConnected,
  encodeConnect,
  encodeData,
  splitMultipart,
} from '../edge/messages.ts';
import { ZitiProtocolError } from '../errors.ts';
import { encodeMessage, MessageDecoder } from './codec.ts';
import { FRAME_PREFIX_BYTES } from './constants.ts';
import type { Message } from './message.ts';

const LIMIT = 4096;

/** Feeds `bytes` split at `cuts`; returns messages, or the protocol error. Any other error fails. */
function feed(bytes: Uint8Array, cuts: number[]): Message[] {
  const d = new MessageDecoder({ maxFrameBytes: LIMIT });
  const out: Message[] = [];
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let prev = 0;
  try {
    for (const p of [...points, bytes.length]) {
      out.push(...d.push(bytes.subarray(prev, p)));
      prev = p;
      expect(d.bufferedBytes).toBeLessThan(FRAME_PREFIX_BYTES + LIMIT);
    }
  } catch (err) {
    if (!(err instanceof ZitiProtocolError)) throw err;
  }
  for (const m of out) {
    let size = m.body.length;
    for (const v of m.headers.values()) size += 8 + v.length;
    expect(size).toBeLessThanOrEqual(LIMIT);
  }
  return out;
}

const validFrame = fc
  .record({
    connId: fc.integer({ min: 0, max: 0xffffffff }),
    seq: fc.integer({ min: 0, max: 0xffffffff }),
    body: fc.uint8Array({ maxLength: 300 }),
    connect: fc.boolean(),
  })
  .map(({ connId, seq, body, connect }) =>
    encodeMessage(
      connect
        ? encodeConnect({ connId, seq, sessionToken: 'tok', appData: body })
        : encodeData({ connId, seq, flags: seq & 31, body }),
    ),
  );

const parsers = [
  decodeBind,
  decodeConnect,
  decodeData,
  decodeDial,
  decodeDialFailed,
  decodeDialSuccess,
  decodeStateClosed,
  decodeStateConnected,
];

function parseAll(m: Message): void {
  for (const parse of parsers) {
    try {
      const r = parse(m);
      if ('multipart' in r && r.multipart) splitMultipart(r.body);
    } catch (err) {
      if (!(err instanceof ZitiProtocolError)) throw err;
    }
  }
}

describe('decoder fuzz', () => {
  it('random bytes: only ZitiProtocolError, bounded buffering', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (bytes, cuts) => {
          // Half the cases start with the magic so the length checks get exercised too.
          if (bytes.length > 4 && bytes[0]! & 1) bytes.set([3, 6, 9, 12]);
          for (const m of feed(bytes, cuts)) parseAll(m);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('mutated valid frames: only ZitiProtocolError, parsers too', () => {
    fc.assert(
      fc.property(
        fc.array(validFrame, { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (frames, mutations, cuts) => {
          const joined = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
          let at = 0;
          for (const f of frames) {
            joined.set(f, at);
            at += f.length;
          }
          for (const [pos, value] of mutations) joined[pos % joined.length] = value;
          for (const m of feed(joined, cuts)) parseAll(m);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('unmutated frames always decode whole, however split', () => {
    fc.assert(
      fc.property(
        fc.array(validFrame, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (frames, cuts) => {
          const joined = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
          let at = 0;
          for (const f of frames) {
            joined.set(f, at);
            at += f.length;
          }
          const got = feed(joined, cuts);
          expect(got.map((m) => encodeMessage(m))).toEqual(frames);
        },
      ),
      { numRuns: 500 },
    );
  });
});
