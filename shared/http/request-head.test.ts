import { describe, expect, it } from 'vitest';
import { HttpInvalidRequestError } from './errors.ts';
import { encodeRequestHead, stripHopByHop } from './request-head.ts';

const text = (b: Uint8Array) => new TextDecoder('latin1').decode(b);

describe('encodeRequestHead', () => {
  it('writes the request line, Host first, fields in order, and the framing field', () => {
    const head = encodeRequestHead({
      method: 'POST',
      target: '/api/v4/posts?x=1',
      headers: [
        ['Accept', 'application/json'],
        ['Host', 'chat.example.com'],
        ['X-Requested-With', 'XMLHttpRequest'],
        ['Content-Length', '999'],
      ],
      framing: { kind: 'length', length: 12 },
    });
    expect(text(head)).toBe(
      'POST /api/v4/posts?x=1 HTTP/1.1\r\nHost: chat.example.com\r\nAccept: application/json\r\nX-Requested-With: XMLHttpRequest\r\nContent-Length: 12\r\n\r\n',
    );
  });

  it('uses chunked framing and Content-Length: 0 for a body-less POST', () => {
    const h = { host: 'a' };
    expect(
      text(
        encodeRequestHead({ method: 'PUT', target: '/', headers: h, framing: { kind: 'chunked' } }),
      ),
    ).toContain('Transfer-Encoding: chunked\r\n\r\n');
    expect(
      text(
        encodeRequestHead({ method: 'POST', target: '/', headers: h, framing: { kind: 'none' } }),
      ),
    ).toContain('Content-Length: 0\r\n');
    expect(
      text(
        encodeRequestHead({ method: 'GET', target: '/', headers: h, framing: { kind: 'none' } }),
      ),
    ).toBe('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  });

  it('accepts Headers, records with arrays, and iterables', () => {
    const headers = new Headers({ host: 'h', 'x-a': '1' });
    expect(
      text(encodeRequestHead({ method: 'GET', target: '/', headers, framing: { kind: 'none' } })),
    ).toBe('GET / HTTP/1.1\r\nHost: h\r\nx-a: 1\r\n\r\n');
    const rec = { Host: 'h', Accept: ['a', 'b'] };
    expect(
      text(
        encodeRequestHead({ method: 'GET', target: '/', headers: rec, framing: { kind: 'none' } }),
      ),
    ).toBe('GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\nAccept: b\r\n\r\n');
  });

  it('drops hop-by-hop fields and those named in Connection', () => {
    const out = text(
      encodeRequestHead({
        method: 'GET',
        target: '/',
        headers: [
          ['Host', 'h'],
          ['Connection', 'keep-alive, X-Secret'],
          ['Keep-Alive', 'timeout=5'],
          ['X-Secret', 's'],
          ['TE', 'trailers'],
          ['Trailer', 'x'],
          ['Transfer-Encoding', 'chunked'],
          ['Upgrade', 'websocket'],
          ['Proxy-Authorization', 'Basic x'],
          ['Proxy-Connection', 'keep-alive'],
          ['X-Keep', 'k'],
        ],
        framing: { kind: 'none' },
      }),
    );
    expect(out).toBe('GET / HTTP/1.1\r\nHost: h\r\nX-Keep: k\r\n\r\n');
  });

  it('keeps Upgrade and Connection when upgrading', () => {
    const out = text(
      encodeRequestHead({
        method: 'GET',
        target: '/ws',
        headers: [
          ['Host', 'h'],
          ['Connection', 'Upgrade'],
          ['Upgrade', 'websocket'],
          ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
        ],
        framing: { kind: 'none' },
        upgrade: true,
      }),
    );
    expect(out).toContain('Connection: Upgrade\r\nUpgrade: websocket\r\n');
    expect(stripHopByHop([['Upgrade', 'x']], false)).toEqual([]);
  });

  const invalid: [string, Parameters<typeof encodeRequestHead>[0]][] = [
    [
      'CRLF in a value',
      {
        method: 'GET',
        target: '/',
        headers: { host: 'h', x: 'a\r\nInjected: 1' },
        framing: { kind: 'none' },
      },
    ],
    [
      'LF in a value',
      { method: 'GET', target: '/', headers: { host: 'h', x: 'a\nb' }, framing: { kind: 'none' } },
    ],
    [
      'NUL in a value',
      { method: 'GET', target: '/', headers: { host: 'h', x: 'a\0b' }, framing: { kind: 'none' } },
    ],
    [
      'non-latin1 value',
      {
        method: 'GET',
        target: '/',
        headers: { host: 'h', x: 'a\u2028' },
        framing: { kind: 'none' },
      },
    ],
    [
      'space in a name',
      { method: 'GET', target: '/', headers: { host: 'h', 'x y': '1' }, framing: { kind: 'none' } },
    ],
    [
      'colon in a name',
      {
        method: 'GET',
        target: '/',
        headers: [
          ['host', 'h'],
          ['x:y', '1'],
        ],
        framing: { kind: 'none' },
      },
    ],
    [
      'empty name',
      {
        method: 'GET',
        target: '/',
        headers: [
          ['host', 'h'],
          ['', '1'],
        ],
        framing: { kind: 'none' },
      },
    ],
    [
      'CRLF in a name',
      {
        method: 'GET',
        target: '/',
        headers: [
          ['host', 'h'],
          ['a\r\nb', '1'],
        ],
        framing: { kind: 'none' },
      },
    ],
    [
      'missing Host',
      { method: 'GET', target: '/', headers: { x: '1' }, framing: { kind: 'none' } },
    ],
    [
      'two Hosts',
      {
        method: 'GET',
        target: '/',
        headers: [
          ['host', 'a'],
          ['Host', 'b'],
        ],
        framing: { kind: 'none' },
      },
    ],
    [
      'CR in Host',
      { method: 'GET', target: '/', headers: { host: 'a\rb' }, framing: { kind: 'none' } },
    ],
    [
      'space in the method',
      { method: 'GE T', target: '/', headers: { host: 'h' }, framing: { kind: 'none' } },
    ],
    [
      'space in the target',
      { method: 'GET', target: '/a b', headers: { host: 'h' }, framing: { kind: 'none' } },
    ],
    [
      'CRLF in the target',
      { method: 'GET', target: '/a\r\nX: y', headers: { host: 'h' }, framing: { kind: 'none' } },
    ],
    [
      'non-ASCII target',
      { method: 'GET', target: '/é', headers: { host: 'h' }, framing: { kind: 'none' } },
    ],
    [
      'relative target',
      { method: 'GET', target: 'a/b', headers: { host: 'h' }, framing: { kind: 'none' } },
    ],
    [
      'negative length',
      {
        method: 'PUT',
        target: '/',
        headers: { host: 'h' },
        framing: { kind: 'length', length: -1 },
      },
    ],
  ];
  for (const [name, init] of invalid) {
    it(`rejects ${name}`, () => {
      expect(() => encodeRequestHead(init)).toThrow(HttpInvalidRequestError);
    });
  }

  it('keeps obs-text (latin1) values as single bytes', () => {
    const b = encodeRequestHead({
      method: 'GET',
      target: '/',
      headers: { host: 'h', x: 'caf\u00e9' },
      framing: { kind: 'none' },
    });
    expect([...b].includes(0xe9)).toBe(true);
  });
});
