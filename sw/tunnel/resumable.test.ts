import { describe, expect, it, vi } from 'vitest';
import {
  HttpAbortError,
  HttpConnectionClosedError,
  type HttpResponse,
} from '../../shared/http/index.ts';
import { resumable, resumeValidator } from './resumable.ts';

const BYTES = Uint8Array.from({ length: 100 }, (_, i) => i);
const ETAG = '"v1"';

/** A response whose body sends `bytes` in chunks of 10, then ends or fails with `end`. */
function response(
  status: number,
  headers: Record<string, string>,
  bytes: Uint8Array,
  end?: Error,
): HttpResponse {
  let at = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (at < bytes.length) {
        c.enqueue(bytes.slice(at, at + 10));
        at += 10;
      } else if (end) c.error(end);
      else c.close();
    },
  });
  return {
    status,
    statusText: '',
    httpVersion: '1.1',
    headers: new Headers(headers),
    rawHeaders: Object.entries(headers),
    setCookies: [],
    body,
    trailers: Promise.resolve(new Headers()),
  };
}

const full = { 'accept-ranges': 'bytes', 'content-length': '100', etag: ETAG };
const lost = () => new HttpConnectionClosedError('connection failed: reader behind', false);
const partial = (from: number, end?: Error) =>
  response(206, { 'content-range': `bytes ${from}-99/100` }, BYTES.subarray(from), end);

async function readAll(r: HttpResponse): Promise<Uint8Array> {
  return new Uint8Array(await new Response(r.body).arrayBuffer());
}

describe('resumeValidator', () => {
  const get = (headers: Record<string, string>, method = 'GET', request = new Headers()) =>
    resumeValidator(method, request, response(200, headers, BYTES));

  it('takes a strong ETag', () => {
    expect(get(full)).toBe(ETAG);
  });

  it('takes a Last-Modified only when it is at least a second before Date', () => {
    const modified = 'Tue, 01 Dec 2026 10:00:00 GMT';
    const base = { 'accept-ranges': 'bytes', 'content-length': '100', 'last-modified': modified };
    expect(get({ ...base, date: 'Tue, 01 Dec 2026 10:00:01 GMT' })).toBe(modified);
    expect(get({ ...base, date: modified })).toBeUndefined();
    expect(get(base)).toBeUndefined();
  });

  it('refuses what could change or is not a plain byte range', () => {
    expect(get({ ...full, etag: 'W/"v1"' })).toBeUndefined();
    expect(get({ ...full, 'accept-ranges': 'none' })).toBeUndefined();
    expect(get({ 'accept-ranges': 'bytes', etag: ETAG })).toBeUndefined(); // no length
    expect(get({ ...full, 'content-encoding': 'gzip' })).toBeUndefined();
    expect(get(full, 'POST')).toBeUndefined();
    expect(get(full, 'GET', new Headers({ range: 'bytes=0-9' }))).toBeUndefined();
    expect(
      resumeValidator('GET', new Headers(), response(206, full, BYTES.subarray(0, 10))),
    ).toBeUndefined();
  });
});

describe('resumable', () => {
  it('goes on with a Range request from the byte where the connection ended', async () => {
    const resend = vi.fn(async (from: number) => partial(from));
    const r = resumable(response(200, full, BYTES.subarray(0, 40), lost()), ETAG, resend);
    expect(await readAll(r)).toEqual(BYTES);
    expect(resend.mock.calls).toEqual([[40, ETAG]]);
  });

  it('resumes as often as each continuation makes progress', async () => {
    const resend = vi.fn(async (from: number) =>
      from < 80
        ? response(
            206,
            { 'content-range': `bytes ${from}-99/100` },
            BYTES.subarray(from, from + 20),
            lost(),
          )
        : partial(from),
    );
    const r = resumable(response(200, full, BYTES.subarray(0, 20), lost()), ETAG, resend);
    expect(await readAll(r)).toEqual(BYTES);
    expect(resend.mock.calls.map(([from]) => from)).toEqual([20, 40, 60, 80]);
  });

  it('ends with the original error when the resource changed (a 200 to If-Range)', async () => {
    const error = lost();
    const onLost = vi.fn();
    const changed = response(200, full, BYTES);
    const r = resumable(
      response(200, full, BYTES.subarray(0, 30), error),
      ETAG,
      async () => changed,
      onLost,
    );
    await expect(readAll(r)).rejects.toBe(error);
    expect(onLost).toHaveBeenCalledWith('the server answered 200, not 206');
    expect(changed.body!.locked).toBe(false); // cancelled, not read
  });

  it('refuses a continuation for other bytes than the missing ones', async () => {
    const onLost = vi.fn();
    const r = resumable(
      response(200, full, BYTES.subarray(0, 30), lost()),
      ETAG,
      async () => partial(20),
      onLost,
    );
    await expect(readAll(r)).rejects.toThrow('reader behind');
    expect(onLost.mock.calls[0]![0]).toContain('bytes 20-99/100, not bytes 30-99/100');
  });

  it('gives up after continuations that bring nothing', async () => {
    const resend = vi.fn(async (from: number) =>
      response(206, { 'content-range': `bytes ${from}-99/100` }, new Uint8Array(0), lost()),
    );
    const onLost = vi.fn();
    const r = resumable(response(200, full, BYTES.subarray(0, 50), lost()), ETAG, resend, onLost);
    await expect(readAll(r)).rejects.toThrow('reader behind');
    expect(resend).toHaveBeenCalledTimes(2);
    expect(onLost).toHaveBeenCalledWith('stopped again at 50 of 100 bytes');
  });

  it('passes on every other failure, and a failed resend, without more requests', async () => {
    const aborted = new HttpAbortError();
    const resend = vi.fn(async (from: number) => partial(from));
    const r = resumable(response(200, full, BYTES.subarray(0, 30), aborted), ETAG, resend);
    await expect(readAll(r)).rejects.toBe(aborted);
    expect(resend).not.toHaveBeenCalled();

    const error = lost();
    const failing = resumable(response(200, full, BYTES.subarray(0, 30), error), ETAG, () =>
      Promise.reject(new Error('no router')),
    );
    await expect(readAll(failing)).rejects.toBe(error);
  });

  it('cancels the body it is reading when the page cancels', async () => {
    const cancel = vi.fn();
    const source: HttpResponse = {
      ...response(200, full, BYTES),
      body: new ReadableStream({ pull: (c) => c.enqueue(new Uint8Array(1)), cancel }),
    };
    const r = resumable(source, ETAG, async (from) => partial(from));
    const reader = r.body!.getReader();
    await reader.read();
    await reader.cancel('page left');
    expect(cancel).toHaveBeenCalledWith('page left');
  });
});
