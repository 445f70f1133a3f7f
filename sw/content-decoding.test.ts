import { deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { canDecode, decodeBody } from './content-decoding.ts';

const stream = (b: Uint8Array) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < b.length; i += 3) c.enqueue(b.slice(i, i + 3));
      c.close();
    },
  });
const text = (s: ReadableStream<Uint8Array> | null) => new Response(s).text();

describe('decodeBody', () => {
  it('undoes gzip, x-gzip and deflate as a stream and drops the encoding fields', async () => {
    for (const [coding, bytes] of [
      ['gzip', gzipSync('hello gzip')],
      ['x-gzip', gzipSync('hello gzip')],
      ['deflate', deflateSync('hello gzip')],
    ] as const) {
      const h = new Headers({
        'content-encoding': coding,
        'content-length': String(bytes.length),
        etag: 'W/"1"',
      });
      const r = decodeBody(h, stream(new Uint8Array(bytes)));
      expect(r.decoded).toBe(true);
      expect([...r.headers.keys()]).toEqual(['etag']);
      expect(await text(r.body)).toBe('hello gzip');
    }
  });

  it('undoes stacked codings in reverse order of application', async () => {
    const twice = gzipSync(deflateSync('layered'));
    const r = decodeBody(
      new Headers({ 'content-encoding': 'deflate, gzip' }),
      stream(new Uint8Array(twice)),
    );
    expect(await text(r.body)).toBe('layered');
  });

  it('leaves identity, absent and unknown codings alone', () => {
    const body = stream(new Uint8Array([1]));
    for (const ce of [undefined, 'identity', 'br', 'gzip, br', 'zstd']) {
      const h = new Headers(ce ? { 'content-encoding': ce } : {});
      const r = decodeBody(h, body);
      expect(r.decoded).toBe(false);
      expect(r.body).toBe(body);
      expect(r.headers).toBe(h);
    }
    expect(canDecode(new Headers({ 'content-encoding': 'br' }))).toBe(false);
    expect(canDecode(new Headers({ 'content-encoding': 'GZIP' }))).toBe(true);
  });

  it('fails the stream on corrupt compressed data', async () => {
    const r = decodeBody(
      new Headers({ 'content-encoding': 'gzip' }),
      stream(new Uint8Array([1, 2, 3, 4, 5])),
    );
    await expect(text(r.body)).rejects.toThrow();
  });
});
