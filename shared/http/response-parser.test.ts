import { describe, expect, it } from 'vitest';
import { HttpConnectionClosedError, HttpParseError } from './errors.ts';
import { type ParseEvent, ResponseParser } from './response-parser.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

interface Collected {
  heads: {
    status: number;
    statusText: string;
    headers: [string, string][];
    kind: string;
    keepAlive: boolean;
  }[];
  body: string;
  trailers: [string, string][] | null;
}

function collect(events: ParseEvent[], into: Collected): void {
  for (const e of events) {
    if (e.type === 'head') {
      into.heads.push({
        status: e.head.status,
        statusText: e.head.statusText,
        headers: e.head.headers,
        kind: e.head.framing.kind,
        keepAlive: e.head.keepAlive,
      });
    } else if (e.type === 'data') into.body += dec(e.data);
    else into.trailers = e.trailers;
  }
}

/** Feeds the input cut at the given offsets, then EOF if `eof`. */
function parse(input: string, cuts: number[] = [], method = 'GET', eof = false): Collected {
  const bytes = enc(input);
  const p = new ResponseParser({ method });
  const out: Collected = { heads: [], body: '', trailers: null };
  let last = 0;
  for (const c of [...cuts, bytes.length]) {
    collect(p.push(bytes.subarray(last, c)), out);
    last = c;
  }
  if (eof) collect(p.end(), out);
  return out;
}

/** Parses whole, then split at every single boundary, then at every pair of boundaries (small inputs). */
function parseAllSplits(input: string, method = 'GET', eof = false): Collected {
  const whole = parse(input, [], method, eof);
  const n = enc(input).length;
  for (let i = 0; i <= n; i++) expect(parse(input, [i], method, eof)).toEqual(whole);
  if (n < 160) {
    for (let i = 0; i <= n; i++) {
      for (let j = i; j <= n; j++) expect(parse(input, [i, j], method, eof)).toEqual(whole);
    }
  }
  // One byte at a time.
  expect(
    parse(
      input,
      Array.from({ length: n }, (_, i) => i),
      method,
      eof,
    ),
  ).toEqual(whole);
  return whole;
}

describe('ResponseParser', () => {
  it('parses a content-length response at every split', () => {
    const r = parseAllSplits(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello world',
    );
    expect(r.heads).toEqual([
      {
        status: 200,
        statusText: 'OK',
        headers: [
          ['Content-Type', 'text/plain'],
          ['Content-Length', '11'],
          ['Set-Cookie', 'a=1'],
          ['Set-Cookie', 'b=2'],
        ],
        kind: 'length',
        keepAlive: true,
      },
    ]);
    expect(r.body).toBe('hello world');
    expect(r.trailers).toEqual([]);
  });

  it('parses chunked bodies with extensions and trailers at every split', () => {
    const r = parseAllSplits(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=val;x\r\nhello\r\n1 ; e="q"\r\n \r\nA\r\n0123456789\r\n0\r\nX-Sum: abc\r\nX-Two:  2 \r\n\r\n',
    );
    expect(r.heads[0]!.kind).toBe('chunked');
    expect(r.body).toBe('hello 0123456789');
    expect(r.trailers).toEqual([
      ['X-Sum', 'abc'],
      ['X-Two', '2'],
    ]);
  });

  it('parses a chunked body without trailers', () => {
    const r = parseAllSplits(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    );
    expect(r.body).toBe('abc');
    expect(r.trailers).toEqual([]);
  });

  it('reads a close-delimited body until EOF and marks it not reusable', () => {
    const r = parseAllSplits('HTTP/1.1 200 OK\r\nX: y\r\n\r\nuntil the end', 'GET', true);
    expect(r.heads[0]!.kind).toBe('close');
    expect(r.heads[0]!.keepAlive).toBe(false);
    expect(r.body).toBe('until the end');
    expect(r.trailers).toEqual([]);
  });

  it('has no body for HEAD, 204 and 304 whatever the fields say', () => {
    for (const [input, method] of [
      ['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', 'HEAD'],
      ['HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n', 'GET'],
      ['HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET'],
    ] as const) {
      const p = new ResponseParser({ method });
      const out: Collected = { heads: [], body: '', trailers: null };
      collect(p.push(enc(input)), out);
      expect(out.heads[0]!.kind).toBe('none');
      expect(out.trailers).toEqual([]);
      expect(p.done).toBe(true);
    }
  });

  it('skips 100 and 103 heads to the final one', () => {
    const r = parseAllSplits(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok',
    );
    expect(r.heads.map((h) => h.status)).toEqual([100, 103, 201]);
    expect(r.body).toBe('ok');
  });

  it('stops at 101 and hands over the bytes that follow', () => {
    const p = new ResponseParser({ method: 'GET' });
    const ev = p.push(
      enc('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi'),
    );
    expect(ev).toHaveLength(1);
    expect(p.done).toBe(true);
    p.push(enc('more'));
    expect(dec(p.takeUpgradeBytes())).toBe('\x81\x02himore');
  });

  it('handles HTTP/1.0, Connection: close, and empty reason phrases', () => {
    expect(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').heads[0]!.keepAlive).toBe(false);
    expect(
      parse('HTTP/1.1 200 OK\r\nConnection: Keep-Alive, close\r\nContent-Length: 0\r\n\r\n')
        .heads[0]!.keepAlive,
    ).toBe(false);
    expect(parse('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n').heads[0]!.statusText).toBe('');
    expect(parse('HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n').heads[0]!.statusText).toBe('');
  });

  it('lets Transfer-Encoding win over Content-Length but forbids reuse', () => {
    const r = parse(
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n',
    );
    expect(r.body).toBe('x');
    expect(r.heads[0]!.keepAlive).toBe(false);
  });

  it('accepts repeated identical Content-Length values', () => {
    expect(
      parse('HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nab').body,
    ).toBe('ab');
  });

  const bad: [string, string, string][] = [
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n', 'ERR_HTTP_PARSE'],
    ['space before colon', 'HTTP/1.1 200 OK\r\nX : a\r\n\r\n', 'ERR_HTTP_PARSE'],
    ['no colon', 'HTTP/1.1 200 OK\r\nnocolon\r\n\r\n', 'ERR_HTTP_PARSE'],
    ['NUL in value', 'HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n', 'ERR_HTTP_PARSE'],
    ['bare CR in value', 'HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n', 'ERR_HTTP_PARSE'],
    ['bare LF', 'HTTP/1.1 200 OK\nX: a\r\n\r\n', 'ERR_HTTP_PARSE'],
    ['bad version', 'HTTP/2.0 200 OK\r\n\r\n', 'ERR_HTTP_PARSE'],
    ['not http', 'SSH-2.0-OpenSSH\r\n\r\n', 'ERR_HTTP_PARSE'],
    ['bad status', 'HTTP/1.1 20 OK\r\n\r\n', 'ERR_HTTP_PARSE'],
    ['status 600', 'HTTP/1.1 600 X\r\n\r\n', 'ERR_HTTP_PARSE'],
    [
      'conflicting lengths',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'ERR_HTTP_PARSE',
    ],
    ['negative length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'ERR_HTTP_PARSE'],
    [
      'gzip transfer coding',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n',
      'ERR_HTTP_PARSE',
    ],
    [
      'bad chunk size',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'ERR_HTTP_PARSE',
    ],
    [
      'huge chunk size',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n',
      'ERR_HTTP_PARSE',
    ],
    [
      'chunk without CRLF',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy',
      'ERR_HTTP_PARSE',
    ],
    ['bytes after response', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxy', 'ERR_HTTP_PARSE'],
  ];
  for (const [name, input, code] of bad) {
    it(`rejects ${name}`, () => {
      let err: unknown;
      try {
        parse(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HttpParseError);
      expect((err as HttpParseError).code).toBe(code);
    });
  }

  it('limits the head size and the number of fields', () => {
    const big = `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(70_000)}\r\n\r\n`;
    expect(() => parse(big)).toThrow(expect.objectContaining({ code: 'ERR_HTTP_HEAD_TOO_LARGE' }));
    // Also when it arrives in small pieces and never terminates.
    const p = new ResponseParser({ method: 'GET', maxHeadBytes: 1000 });
    p.push(enc('HTTP/1.1 200 OK\r\n'));
    expect(() => {
      for (let i = 0; i < 200; i++) p.push(enc('X: 12345\r\n'));
    }).toThrow(expect.objectContaining({ code: 'ERR_HTTP_HEAD_TOO_LARGE' }));
    const many = `HTTP/1.1 200 OK\r\n${'X: 1\r\n'.repeat(300)}\r\n`;
    expect(() => parse(many)).toThrow(
      expect.objectContaining({ code: 'ERR_HTTP_TOO_MANY_HEADERS' }),
    );
    const trailers = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${'T: x\r\n'.repeat(20_000)}\r\n`;
    expect(() => parse(trailers)).toThrow(
      expect.objectContaining({ code: 'ERR_HTTP_HEAD_TOO_LARGE' }),
    );
  });

  it('reports EOF before any byte as retryable and truncation as not', () => {
    const none = new ResponseParser({ method: 'GET' });
    expect(() => none.end()).toThrow(
      expect.objectContaining({ code: 'ERR_HTTP_CONNECTION_CLOSED', beforeResponse: true }),
    );
    const half = new ResponseParser({ method: 'GET' });
    half.push(enc('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab'));
    try {
      half.end();
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(HttpConnectionClosedError);
      expect((e as HttpConnectionClosedError).beforeResponse).toBe(false);
    }
  });

  it('returns body data as views of the input without copying', () => {
    const p = new ResponseParser({ method: 'GET' });
    p.push(enc('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n'));
    const chunk = new Uint8Array(1000);
    const [ev] = p.push(chunk);
    expect(ev!.type).toBe('data');
    expect((ev as { data: Uint8Array }).data.buffer).toBe(chunk.buffer);
  });
});
