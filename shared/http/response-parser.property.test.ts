import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ResponseParser } from './response-parser.ts';

const enc = new TextEncoder();

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Encodes `body` as a response, chunked into `sizes` (cycled) or with Content-Length. */
function encodeResponse(
  body: Uint8Array,
  chunked: boolean,
  sizes: number[],
  trailer: boolean,
): Uint8Array {
  if (!chunked) {
    return concat([enc.encode(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
  }
  const parts: Uint8Array[] = [enc.encode('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')];
  let o = 0;
  let i = 0;
  while (o < body.length) {
    const n = Math.min(sizes[i++ % sizes.length]!, body.length - o);
    parts.push(
      enc.encode(`${n.toString(16)}${i % 2 ? ';ext=1' : ''}\r\n`),
      body.subarray(o, o + n),
      enc.encode('\r\n'),
    );
    o += n;
  }
  parts.push(enc.encode(trailer ? '0\r\nX-T: v\r\n\r\n' : '0\r\n\r\n'));
  return concat(parts);
}

describe('ResponseParser (property)', () => {
  it('recovers any body from any framing and any input slicing', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 20 }),
        (body, chunked, sizes, trailer, cuts) => {
          const wire = encodeResponse(body, chunked, sizes, trailer);
          const p = new ResponseParser({ method: 'GET' });
          const got: Uint8Array[] = [];
          let trailers: [string, string][] | null = null;
          let o = 0;
          let i = 0;
          while (o < wire.length) {
            const n = cuts[i++ % cuts.length]!;
            for (const e of p.push(wire.subarray(o, o + n))) {
              if (e.type === 'data') got.push(e.data.slice());
              if (e.type === 'end') trailers = e.trailers;
            }
            o += n;
          }
          expect(p.done).toBe(true);
          expect(concat(got)).toEqual(body);
          expect(trailers).toEqual(chunked && trailer ? [['X-T', 'v']] : []);
        },
      ),
      { numRuns: 300 },
    );
  });
});
