import { gzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import {
  HttpAbortError,
  HttpConnectionClosedError,
  type HttpResponse,
} from '../../shared/http/index.ts';
import {
  BACKLOG_BYTES,
  RANGE_BYTES,
  type Resend,
  type ResumePlan,
  resumable,
  resumePlan,
  Tail,
} from './resumable.ts';

const BYTES = Uint8Array.from({ length: 100 }, (_, i) => i);
const ETAG = '"v1"';
const PLAIN: ResumePlan = { validator: ETAG, decoded: false };

/** A response whose body sends `bytes` in chunks of `chunk`, then ends or fails with `end`. */
function response(
  status: number,
  headers: Record<string, string>,
  bytes: Uint8Array,
  end?: Error,
  chunk = 10,
): HttpResponse {
  let at = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      if (at < bytes.length) {
        c.enqueue(bytes.slice(at, at + chunk));
        at += chunk;
      } else if (end) {
        // A connection ends after its bytes have gone their way (through a decoder, too).
        await new Promise((settled) => setTimeout(settled, 20));
        c.error(end);
      } else c.close();
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

describe('resumePlan', () => {
  const get = (headers: Record<string, string>, method = 'GET', request = new Headers()) =>
    resumePlan(method, request, response(200, headers, BYTES))?.validator;

  it('takes a strong ETag', () => {
    expect(get(full)).toBe(ETAG);
  });

  it('takes a body it decodes, preferring Last-Modified: an entity tag names the encoded bytes', () => {
    const modified = 'Tue, 01 Dec 2026 10:00:00 GMT';
    const gzip = { 'content-encoding': 'gzip', date: 'Tue, 01 Dec 2026 10:00:05 GMT' };
    const plan = (headers: Record<string, string>) =>
      resumePlan('GET', new Headers(), response(200, headers, BYTES));
    expect(plan({ ...gzip, 'last-modified': modified, etag: ETAG })).toEqual({
      validator: modified,
      decoded: true,
    });
    expect(plan({ ...gzip, etag: ETAG })).toEqual({ validator: ETAG, decoded: true });
    expect(plan(gzip)).toBeUndefined();
    expect(plan({ ...gzip, 'content-encoding': 'br', etag: ETAG })).toBeUndefined();
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
    expect(get(full, 'POST')).toBeUndefined();
    expect(get(full, 'GET', new Headers({ range: 'bytes=0-9' }))).toBeUndefined();
    expect(
      resumePlan('GET', new Headers(), response(206, full, BYTES.subarray(0, 10))),
    ).toBeUndefined();
  });
});

describe('resumable', () => {
  it('goes on with a Range request from the byte where the connection ended', async () => {
    const resend = vi.fn(async (from: number) => partial(from));
    const r = resumable(response(200, full, BYTES.subarray(0, 40), lost()), PLAIN, resend);
    expect(await readAll(r)).toEqual(BYTES);
    expect(resend.mock.calls).toEqual([[40, 40 + RANGE_BYTES - 1, ETAG]]);
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
    const r = resumable(response(200, full, BYTES.subarray(0, 20), lost()), PLAIN, resend);
    expect(await readAll(r)).toEqual(BYTES);
    expect(resend.mock.calls.map(([from]) => from)).toEqual([20, 40, 60, 80]);
  });

  it('caps the backlog of the response and of every continuation, and of nothing else', async () => {
    const caps: string[] = [];
    const capped = (name: string, r: HttpResponse): HttpResponse => ({
      ...r,
      capBacklog: (bytes) => caps.push(`${name} ${bytes}`),
    });
    const resend = async (from: number) => capped(`from ${from}`, partial(from));
    const first = capped('first', response(200, full, BYTES.subarray(0, 40), lost()));
    expect(await readAll(resumable(first, PLAIN, resend))).toEqual(BYTES);
    expect(caps).toEqual([`first ${BACKLOG_BYTES}`, `from 40 ${BACKLOG_BYTES}`]);
  });

  describe('in ranges', () => {
    /** A server that honours `first-last`, as a file server does; each answer a spied body. */
    /** The page's own response, its connection lost after 10 bytes; ranges of 20. */
    const cutAt10 = (resend: Resend, onLost?: (why: string) => void) =>
      resumable(response(200, full, BYTES.subarray(0, 10), lost()), PLAIN, resend, {
        ...(onLost ? { onLost } : {}),
        rangeBytes: 20,
      });
    const ranged = (first: number, last: number) =>
      response(
        206,
        { 'content-range': `bytes ${first}-${Math.min(last, 99)}/100` },
        BYTES.subarray(first, last + 1),
      );

    it('asks for one range at a time, the next once the page had half of the one before', async () => {
      const resend = vi.fn(async (first: number, last: number) => ranged(first, last));
      const r = cutAt10(resend);
      const reader = r.body!.getReader();
      const seen: string[] = [];
      let got = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        got += value.length;
        seen.push(`${got}:${resend.mock.calls.length}`);
      }
      expect(got).toBe(100);
      expect(resend.mock.calls.map(([first, last]) => `${first}-${last}`)).toEqual([
        '10-29',
        '30-49',
        '50-69',
        '70-89',
        '90-109',
      ]);
      // Ranges of 20 arrive in reads of 10: the next range is asked for after the first half.
      expect(seen).toEqual([
        '10:0',
        '20:2',
        '30:2',
        '40:3',
        '50:3',
        '60:4',
        '70:4',
        '80:5',
        '90:5',
        '100:5',
      ]);
    });

    it('takes a server that sends more than the range asked for', async () => {
      const resend = vi.fn(async (first: number) => partial(first));
      const r = cutAt10(resend);
      expect(await readAll(r)).toEqual(BYTES);
      expect(resend).toHaveBeenCalledTimes(1);
    });

    it('drops the range asked ahead when the one before loses its connection, and when the page cancels', async () => {
      const answers: HttpResponse[] = [];
      const resend = vi.fn(async (first: number, last: number) => {
        const answer =
          first === 10
            ? response(206, { 'content-range': 'bytes 10-29/100' }, BYTES.subarray(10, 20), lost())
            : ranged(first, last);
        answers.push(answer);
        return answer;
      });
      const r = cutAt10(resend);
      expect(await readAll(r)).toEqual(BYTES);
      expect(resend.mock.calls.map(([first]) => first)).toEqual([10, 30, 20, 40, 60, 80]);
      expect(answers[1]!.body!.locked).toBe(false); // 30-49, asked ahead, never read
      await expect(answers[1]!.body!.getReader().closed).resolves.toBeUndefined(); // cancelled

      const page = cutAt10(async (first, last) => {
        const answer = ranged(first, last);
        answers.push(answer);
        return answer;
      });
      const reader = page.body!.getReader();
      for (let got = 0; got < 20; ) got += (await reader.read()).value!.length;
      await reader.cancel('page left');
      const ahead = answers.at(-1)!;
      expect(ahead.headers.get('content-range')).toBe('bytes 30-49/100');
      await expect(ahead.body!.getReader().closed).resolves.toBeUndefined();
    });

    it('drops the range asked ahead when the body fails for another reason', async () => {
      const aborted = new HttpAbortError();
      const answers: HttpResponse[] = [];
      const r = cutAt10(async (first, last) => {
        const answer =
          first === 10
            ? response(206, { 'content-range': 'bytes 10-29/100' }, BYTES.subarray(10, 20), aborted)
            : ranged(first, last);
        answers.push(answer);
        return answer;
      });
      await expect(readAll(r)).rejects.toBe(aborted);
      expect(answers[1]!.headers.get('content-range')).toBe('bytes 30-49/100');
      await expect(answers[1]!.body!.getReader().closed).resolves.toBeUndefined(); // cancelled
    });

    it('ends the body with a failure of its own when the next range cannot be had', async () => {
      const onLost = vi.fn();
      const r = cutAt10(
        async (first, last) => (first === 10 ? ranged(first, last) : response(200, full, BYTES)),
        onLost,
      );
      await expect(readAll(r)).rejects.toMatchObject({
        code: 'upstream-error',
        message: 'the download stopped at 30 of 100 bytes',
      });
      expect(onLost).toHaveBeenCalledWith('the server answered 200, not 206');
    });
  });

  it('ends with the original error when the resource changed (a 200 to If-Range)', async () => {
    const error = lost();
    const onLost = vi.fn();
    const changed = response(200, full, BYTES);
    const r = resumable(
      response(200, full, BYTES.subarray(0, 30), error),
      PLAIN,
      async () => changed,
      { onLost },
    );
    await expect(readAll(r)).rejects.toBe(error);
    expect(onLost).toHaveBeenCalledWith('the server answered 200, not 206');
    expect(changed.body!.locked).toBe(false); // cancelled, not read
  });

  it('refuses a continuation for other bytes than the missing ones', async () => {
    const onLost = vi.fn();
    const r = resumable(
      response(200, full, BYTES.subarray(0, 30), lost()),
      PLAIN,
      async () => partial(20),
      { onLost },
    );
    await expect(readAll(r)).rejects.toThrow('reader behind');
    expect(onLost.mock.calls[0]![0]).toBe('the server sent bytes 20-99/100, not bytes 30-…/100');
  });

  it('gives up after continuations that bring nothing', async () => {
    const resend = vi.fn(async (from: number) =>
      response(206, { 'content-range': `bytes ${from}-99/100` }, new Uint8Array(0), lost()),
    );
    const onLost = vi.fn();
    const r = resumable(response(200, full, BYTES.subarray(0, 50), lost()), PLAIN, resend, {
      onLost,
    });
    await expect(readAll(r)).rejects.toThrow('reader behind');
    expect(resend).toHaveBeenCalledTimes(2);
    expect(onLost).toHaveBeenCalledWith('stopped again at 50 of 100 bytes');
  });

  it('passes on every other failure, and a failed resend, without more requests', async () => {
    const aborted = new HttpAbortError();
    const resend = vi.fn(async (from: number) => partial(from));
    const r = resumable(response(200, full, BYTES.subarray(0, 30), aborted), PLAIN, resend);
    await expect(readAll(r)).rejects.toBe(aborted);
    expect(resend).not.toHaveBeenCalled();

    const error = lost();
    const failing = resumable(response(200, full, BYTES.subarray(0, 30), error), PLAIN, () =>
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
    const r = resumable(source, PLAIN, async (from) => partial(from));
    const reader = r.body!.getReader();
    await reader.read();
    await reader.cancel('page left');
    expect(cancel).toHaveBeenCalledWith('page left');
  });

  it('takes a connection silent while the page waits for lost, and only then', async () => {
    const sleep = (ms: number) => new Promise((settled) => setTimeout(settled, ms));
    /** 10 bytes per read, each `gapMs` after the last; silent for good after `upTo`. */
    const trickle = (upTo: number, gapMs: number, cancel = vi.fn()): HttpResponse => {
      let at = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          if (at >= 100) return c.close();
          if (at >= upTo) return new Promise<void>(() => {}); // an app gone, a circuit silent
          await sleep(gapMs);
          c.enqueue(BYTES.slice(at, at + 10));
          at += 10;
        },
        cancel,
      });
      return { ...response(200, full, BYTES), body };
    };
    const cancel = vi.fn();
    const resend = vi.fn(async (first: number) => partial(first));
    const silent = resumable(trickle(40, 0, cancel), PLAIN, resend, { stallMs: 200 });
    expect(await readAll(silent)).toEqual(BYTES);
    expect(resend.mock.calls.map(([first]) => first)).toEqual([40]);
    expect(String(cancel.mock.calls[0]![0])).toMatch(/no byte for 0.2 s/);

    // Bytes that keep coming, however slowly, and a page that waits long between its reads.
    const alive = resumable(trickle(100, 20), PLAIN, resend, { stallMs: 200 });
    expect(await readAll(alive)).toEqual(BYTES);
    const reader = resumable(trickle(100, 0), PLAIN, resend, { stallMs: 200 }).body!.getReader();
    for (let got = 0; got < 100; await sleep(300)) got += (await reader.read()).value!.length;
    expect(resend).toHaveBeenCalledTimes(1);
  });

  it('cancels a continuation that arrives after the page cancelled', async () => {
    let answer!: (r: HttpResponse) => void;
    const resend = vi.fn(() => new Promise<HttpResponse>((resolve) => (answer = resolve)));
    const r = resumable(response(200, full, BYTES.subarray(0, 40), lost()), PLAIN, resend);
    const reader = r.body!.getReader();
    for (let got = 0; got < 40; ) got += (await reader.read()).value!.length;
    const pending = reader.read(); // the connection is lost: the continuation is asked for
    await vi.waitFor(() => expect(resend).toHaveBeenCalled());
    await reader.cancel('page left');
    expect((await pending).done).toBe(true);
    const late = partial(40);
    answer(late);
    await new Promise((settled) => setTimeout(settled, 0));
    await expect(late.body!.getReader().closed).resolves.toBeUndefined(); // cancelled, not left open
  });
});

describe('resumable, a body decoded here', () => {
  // Incompressible, so that the encoded stream ends somewhere in the middle of the decoded one.
  const DATA = new Uint8Array(300_000);
  let x = 0x2545f491;
  for (let i = 0; i < DATA.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    DATA[i] = x & 255;
  }
  const GZIPPED = new Uint8Array(gzipSync(DATA));
  const MODIFIED = 'Tue, 01 Dec 2026 10:00:00 GMT';
  const PLAN: ResumePlan = { validator: MODIFIED, decoded: true };
  const gzipped = (cutAt: number, error = lost()) =>
    response(
      200,
      {
        'content-encoding': 'gzip',
        'content-length': String(GZIPPED.length),
        'last-modified': MODIFIED,
      },
      GZIPPED.subarray(0, cutAt),
      error,
      4096,
    );
  const plainFrom = (bytes: Uint8Array) => (from: number) =>
    response(
      206,
      { 'content-range': `bytes ${from}-${bytes.length - 1}/${bytes.length}` },
      bytes.subarray(from),
      undefined,
      4096,
    );

  it('goes on with the plain bytes, repeating up to 64 KiB of what the page had', async () => {
    const resend = vi.fn(async (from: number, _last: number, _validator: string) =>
      plainFrom(DATA)(from),
    );
    const r = resumable(gzipped(150_000), PLAN, resend);
    expect(r.headers.has('content-encoding')).toBe(false);
    expect(r.headers.has('content-length')).toBe(false);
    expect(r.rawHeaders.map(([name]) => name)).toEqual(['last-modified']);
    expect(await readAll(r)).toEqual(DATA);
    expect(resend).toHaveBeenCalledTimes(1);
    const [from, last, validator] = resend.mock.calls[0]!;
    expect([last - from + 1, validator]).toEqual([RANGE_BYTES, MODIFIED]);
    // It asked from 64 KiB before what the page had, which was some of the 150 000 bytes sent.
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThan(150_000 - 65_536);
  });

  it('holds every continuation to the length the first one gave', async () => {
    const resend = vi.fn(async (from: number) =>
      resend.mock.calls.length === 1
        ? response(
            206,
            { 'content-range': `bytes ${from}-299999/300000` },
            DATA.subarray(from, from + 100_000),
            lost(),
            4096,
          )
        : plainFrom(new Uint8Array(400_000))(from),
    );
    const onLost = vi.fn();
    await expect(readAll(resumable(gzipped(150_000), PLAN, resend, { onLost }))).rejects.toThrow(
      'reader behind',
    );
    expect(resend).toHaveBeenCalledTimes(2);
    expect(onLost.mock.calls[0]![0]).toMatch(
      /^the server sent bytes \d+-399999\/400000, not bytes \d+-…\/300000$/,
    );
  });

  it('ends with the original error when the plain bytes are not the decoded ones', async () => {
    // As a server sends a `.gz` file it labelled `Content-Encoding: gzip`: the compressed file.
    const onLost = vi.fn();
    const error = lost();
    const r = resumable(gzipped(150_000, error), PLAN, async (from) => plainFrom(GZIPPED)(from), {
      onLost,
    });
    await expect(readAll(r)).rejects.toBe(error);
    expect(onLost.mock.calls[0]![0]).toMatch(
      /^the plain bytes from \d+ differ from the decoded ones the page had$/,
    );
  });

  it('refuses to go on before 1 KiB arrived, or with encoded bytes', async () => {
    const resend = vi.fn(async (from: number) => plainFrom(DATA)(from));
    const onLost = vi.fn();
    await expect(readAll(resumable(gzipped(200), PLAN, resend, { onLost }))).rejects.toThrow(
      'reader behind',
    );
    expect(resend).not.toHaveBeenCalled();
    expect(onLost.mock.calls[0]![0]).toMatch(/too few to check/);

    const encoded = (from: number) =>
      response(
        206,
        { 'content-range': `bytes ${from}-299999/300000`, 'content-encoding': 'gzip' },
        DATA.subarray(from),
      );
    await expect(
      readAll(resumable(gzipped(150_000), PLAN, async (from) => encoded(from), { onLost })),
    ).rejects.toThrow('reader behind');
    expect(onLost).toHaveBeenLastCalledWith('the server sent the bytes with Content-Encoding gzip');
  });

  it('passes on a failure of the encoding itself', async () => {
    const broken = GZIPPED.slice(0, 150_000);
    broken[3]! = 0xff; // reserved flags: not gzip
    const resend = vi.fn();
    const r = resumable(
      response(200, { 'content-encoding': 'gzip' }, broken, lost(), 4096),
      PLAN,
      resend,
    );
    await expect(readAll(r)).rejects.toThrow();
    expect(resend).not.toHaveBeenCalled();
  });
});

describe('Tail', () => {
  it('answers for any run of the last bytes, however the stream was chunked', () => {
    const stream = Uint8Array.from({ length: 5000 }, (_, i) => (i * 31 + (i >> 8)) & 255);
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    for (let round = 0; round < 50; round++) {
      const tail = new Tail(1000);
      for (let at = 0; at < stream.length; ) {
        const n = Math.min(1 + random(700), stream.length - at);
        tail.push(stream.subarray(at, at + n));
        at += n;
      }
      for (let check = 0; check < 20; check++) {
        const offset = stream.length - 1000 + random(1000);
        const length = random(stream.length - offset + 1);
        const run = stream.slice(offset, offset + length);
        expect(tail.equals(run, offset)).toBe(true);
        if (length > 0) {
          run[random(length)] ^= 1;
          expect(tail.equals(run, offset)).toBe(false);
        }
      }
      // Bytes it no longer holds, or never had, are never equal.
      expect(tail.equals(stream.subarray(0, 10), 0)).toBe(false);
      expect(tail.equals(new Uint8Array(1), stream.length)).toBe(false);
    }
  });
});
