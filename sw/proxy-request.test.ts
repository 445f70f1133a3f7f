import { createServer, type IncomingMessage, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dialer } from '../shared/http/_test/node-duplex.ts';
import { HttpConnection } from '../shared/http/connection.ts';
import { encodeRequestHead } from '../shared/http/request-head.ts';
import { SHIM_TAG } from './html-inject.ts';
import {
  buildBrowserResponse,
  buildRequestHead,
  readRequestBody,
  refererFor,
  rewriteLocation,
} from './proxy-request.ts';
import { loadToughCookie } from './tough-cookie.ts';

// As in the worker, where the cookie jar's opening loads the public suffix list first.
beforeAll(() => loadToughCookie());

const PUB = 'https://chat.example.com';
const opts = { publicOrigin: PUB };

function fields(head: { headers: [string, string][] }): Record<string, string> {
  return Object.fromEntries(head.headers.map(([n, v]) => [n.toLowerCase(), v]));
}

describe('buildRequestHead', () => {
  it("adds the worker's HTTP credentials, but never over an Authorization the page set", () => {
    const mine = buildRequestHead(new Request(`${PUB}/basic/x`), {
      ...opts,
      authorization: 'Basic YWxpY2U6d29uZGVybGFuZA==',
    });
    expect(mine.headers.filter(([n]) => n.toLowerCase() === 'authorization')).toEqual([
      ['Authorization', 'Basic YWxpY2U6d29uZGVybGFuZA=='],
    ]);
    const pages = buildRequestHead(
      new Request(`${PUB}/basic/x`, { headers: { Authorization: 'Bearer page-token' } }),
      { ...opts, authorization: 'Basic YWxpY2U6d29uZGVybGFuZA==' },
    );
    expect(pages.headers.filter(([n]) => n.toLowerCase() === 'authorization')).toEqual([
      ['authorization', 'Bearer page-token'],
    ]);
    expect(fields(buildRequestHead(new Request(`${PUB}/x`), opts))).not.toHaveProperty(
      'authorization',
    );
  });

  it('sends the public Host, the path and query without fragment, and X-Forwarded-Proto', () => {
    const req = new Request(`${PUB}/api/v4/users/me?a=1&b=2#frag`, {
      headers: { Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest' },
    });
    const head = buildRequestHead(req, {
      ...opts,
      cookie: 'MMAUTHTOKEN=t; MMCSRF=c',
      userAgent: 'UA/1',
      acceptLanguage: 'de-CH, en;q=0.5',
    });
    expect(head.method).toBe('GET');
    expect(head.target).toBe('/api/v4/users/me?a=1&b=2');
    expect(head.headers[0]).toEqual(['Host', 'chat.example.com']);
    expect(fields(head)).toMatchObject({
      accept: 'application/json',
      'x-requested-with': 'XMLHttpRequest',
      cookie: 'MMAUTHTOKEN=t; MMCSRF=c',
      'user-agent': 'UA/1',
      'accept-language': 'de-CH, en;q=0.5',
      'accept-encoding': 'gzip, deflate',
      'x-forwarded-proto': 'https',
    });
    expect(fields(head).origin).toBeUndefined();
  });

  it('uses the intercept address as Host when configured, and the URL host for intercepted hosts', () => {
    expect(
      buildRequestHead(new Request(`${PUB}/`), { ...opts, host: 'mattermost.ziti:8065' })
        .headers[0],
    ).toEqual(['Host', 'mattermost.ziti:8065']);
    expect(buildRequestHead(new Request('http://files.corp:8080/x'), opts).headers[0]).toEqual([
      'Host',
      'files.corp:8080',
    ]);
    expect(
      buildRequestHead(new Request('http://localhost:8080/x'), {
        publicOrigin: 'http://localhost:8080',
      }).headers[0],
    ).toEqual(['Host', 'localhost:8080']);
  });

  it('drops hop-by-hop, spoofable and framing fields the page supplied', () => {
    const req = new Request(`${PUB}/`, {
      method: 'POST',
      body: 'x',
      headers: {
        Connection: 'keep-alive, X-Hop',
        'X-Hop': '1',
        'Keep-Alive': '5',
        TE: 'trailers',
        Upgrade: 'h2c',
        'Proxy-Authorization': 'x',
        'X-Forwarded-For': '6.6.6.6',
        'X-Real-IP': '6.6.6.6',
        Forwarded: 'for=6.6.6.6',
        'X-Forwarded-Proto': 'http',
        Cookie: 'forged=1',
        'Accept-Encoding': 'br',
        'Content-Type': 'text/plain',
      },
    });
    const f = fields(buildRequestHead(req, { ...opts, cookie: 'real=1' }));
    for (const n of [
      'connection',
      'x-hop',
      'keep-alive',
      'te',
      'upgrade',
      'proxy-authorization',
      'x-forwarded-for',
      'x-real-ip',
      'forwarded',
      'content-length',
    ]) {
      expect(f[n], n).toBeUndefined();
    }
    expect(f).toMatchObject({
      cookie: 'real=1',
      'accept-encoding': 'gzip, deflate',
      'x-forwarded-proto': 'https',
      'content-type': 'text/plain',
    });
  });

  it('adds Origin to unsafe methods and cross-origin CORS requests', () => {
    expect(
      fields(buildRequestHead(new Request(`${PUB}/api`, { method: 'POST', body: '{}' }), opts))
        .origin,
    ).toBe(PUB);
    expect(
      fields(buildRequestHead(new Request(`${PUB}/api`, { method: 'DELETE' }), opts)).origin,
    ).toBe(PUB);
    expect(
      fields(buildRequestHead(new Request('https://files.corp/a', { mode: 'cors' }), opts)).origin,
    ).toBe(PUB);
    expect(
      fields(buildRequestHead(new Request(`${PUB}/a`, { mode: 'cors' }), opts)).origin,
    ).toBeUndefined();
  });

  it("sends the Origin and fetch metadata the caller decided, never the page's own", () => {
    const req = new Request(`${PUB}/api`, {
      method: 'POST',
      body: '{}',
      headers: { 'Sec-Fetch-Site': 'same-origin', 'X-Custom': '1' },
    });
    const f = fields(
      buildRequestHead(req, {
        ...opts,
        context: {
          cookies: 'none',
          origin: 'https://evil.example',
          fetchMetadata: [['Sec-Fetch-Site', 'cross-site']],
        },
      }),
    );
    expect(f).toMatchObject({
      origin: 'https://evil.example',
      'sec-fetch-site': 'cross-site',
      'x-custom': '1',
    });
  });

  it('asks for an unencoded body on Range requests', () => {
    const f = fields(
      buildRequestHead(new Request(`${PUB}/file`, { headers: { Range: 'bytes=0-99' } }), opts),
    );
    expect(f.range).toBe('bytes=0-99');
    expect(f['accept-encoding']).toBe('identity');
  });

  it('produces a head the HTTP encoder accepts', () => {
    const head = buildRequestHead(new Request(`${PUB}/x?y`, { method: 'PUT', body: 'z' }), {
      ...opts,
      cookie: 'a=b',
    });
    const text = new TextDecoder().decode(
      encodeRequestHead({ ...head, framing: { kind: 'length', length: 1 } }),
    );
    expect(text.startsWith('PUT /x?y HTTP/1.1\r\nHost: chat.example.com\r\n')).toBe(true);
  });
});

describe('refererFor', () => {
  const target = new URL(`${PUB}/api`);
  // Node's Request cannot take a referrer of another origin; refererFor reads only these two.
  const mk = (referrer: string, referrerPolicy: ReferrerPolicy = '') =>
    ({ referrer, referrerPolicy }) as unknown as Request;
  it('applies the default policy and the explicit ones', () => {
    expect(refererFor(mk(`${PUB}/channels/town#x`), target)).toBe(`${PUB}/channels/town`);
    expect(refererFor(mk('https://other.example/p?q'), target)).toBe('https://other.example/');
    expect(refererFor(mk('https://user:pw@chat.example.com/a'), target)).toBe(`${PUB}/a`);
    expect(refererFor(mk(`${PUB}/a`), new URL('http://plain.example/'))).toBeUndefined();
    expect(refererFor(mk(`${PUB}/a`, 'no-referrer'), target)).toBeUndefined();
    expect(refererFor(mk(`${PUB}/a`, 'origin'), target)).toBe(`${PUB}/`);
    expect(refererFor(mk('https://other.example/p', 'same-origin'), target)).toBeUndefined();
    expect(refererFor(mk('https://other.example/p', 'unsafe-url'), target)).toBe(
      'https://other.example/p',
    );
    expect(refererFor(mk('about:client'), target)).toBeUndefined();
    expect(refererFor(mk(''), target)).toBeUndefined();
  });
});

describe('readRequestBody', () => {
  it('returns null for GET and empty bodies, bytes for small ones, a sized stream for large ones', async () => {
    expect((await readRequestBody(new Request(`${PUB}/`))).body).toBeNull();
    expect((await readRequestBody(new Request(`${PUB}/`, { method: 'POST' }))).body).toBeNull();
    const small = await readRequestBody(new Request(`${PUB}/`, { method: 'POST', body: 'hello' }));
    expect(small.body).toEqual(new TextEncoder().encode('hello'));
    const big = new Uint8Array(1024 * 1024).map((_, i) => i & 0xff);
    const r = await readRequestBody(new Request(`${PUB}/`, { method: 'PUT', body: big }));
    expect(r.contentLength).toBe(big.length);
    expect(r.body).toBeInstanceOf(ReadableStream);
    expect(new Uint8Array(await new Response(r.body as ReadableStream).arrayBuffer())).toEqual(big);
  });
});

describe('rewriteLocation', () => {
  const o = { publicOrigin: PUB, darkOrigins: ['http://mattermost.ziti:8065'] };
  it('points dark-host and wrong-scheme redirects at the public origin, keeps others', () => {
    expect(rewriteLocation('http://mattermost.ziti:8065/login?redirect_to=%2Fx#h', o)).toBe(
      `${PUB}/login?redirect_to=%2Fx#h`,
    );
    expect(rewriteLocation('http://chat.example.com/landing', o)).toBe(`${PUB}/landing`);
    expect(rewriteLocation('/relative/path', o)).toBe('/relative/path');
    expect(rewriteLocation('https://idp.example.com/authorize?x', o)).toBe(
      'https://idp.example.com/authorize?x',
    );
    expect(rewriteLocation('http://mattermost.ziti:9999/', o)).toBe('http://mattermost.ziti:9999/');
    expect(rewriteLocation('http://chat.example.com:8080/', o)).toBe(
      'http://chat.example.com:8080/',
    );
  });
});

describe('buildBrowserResponse', () => {
  const body = (s: string | Uint8Array) => new Response(s as BodyInit).body;

  it('strips hop-by-hop and Set-Cookie, keeps CSP and the rest', async () => {
    const r = buildBrowserResponse(
      {
        status: 200,
        statusText: 'OK',
        rawHeaders: [
          ['Content-Type', 'application/json'],
          ['Connection', 'keep-alive, X-Conn'],
          ['X-Conn', '1'],
          ['Keep-Alive', 'timeout=5'],
          ['Transfer-Encoding', 'chunked'],
          ['Set-Cookie', 'a=1; HttpOnly'],
          ['Content-Security-Policy', "frame-ancestors 'self'"],
          ['X-Version-Id', '9.0'],
        ],
        body: body('{"ok":true}'),
      },
      opts,
    );
    expect(r.status).toBe(200);
    expect([...r.headers.keys()].sort()).toEqual([
      'content-security-policy',
      'content-type',
      'x-version-id',
    ]);
    expect(await r.json()).toEqual({ ok: true });
  });

  it('returns redirects as they are, with the Location rewritten', () => {
    const r = buildBrowserResponse(
      {
        status: 302,
        statusText: 'Found',
        rawHeaders: [['Location', 'http://mattermost.ziti:8065/login']],
        body: body(''),
      },
      { ...opts, darkOrigins: ['http://mattermost.ziti:8065'] },
    );
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe(`${PUB}/login`);
  });

  it('passes 206 ranges through, and has no body for 204/304', async () => {
    const r = buildBrowserResponse(
      {
        status: 206,
        statusText: 'Partial Content',
        rawHeaders: [
          ['Content-Range', 'bytes 0-2/10'],
          ['Content-Length', '3'],
        ],
        body: body('abc'),
      },
      opts,
    );
    expect(r.headers.get('content-range')).toBe('bytes 0-2/10');
    expect(await r.text()).toBe('abc');
    expect(
      buildBrowserResponse(
        { status: 304, statusText: 'Not Modified', rawHeaders: [['ETag', '"x"']], body: body('') },
        opts,
      ).body,
    ).toBeNull();
  });

  it('decodes gzip bodies and injects the shim into HTML when asked', async () => {
    const gz = new Uint8Array(gzipSync('{"a":1}'));
    const json = buildBrowserResponse(
      {
        status: 200,
        statusText: 'OK',
        rawHeaders: [
          ['Content-Type', 'application/json'],
          ['Content-Encoding', 'gzip'],
          ['Content-Length', String(gz.length)],
        ],
        body: body(gz),
      },
      opts,
    );
    expect(json.headers.has('content-encoding')).toBe(false);
    expect(json.headers.has('content-length')).toBe(false);
    expect(await json.json()).toEqual({ a: 1 });
    const html = new Uint8Array(gzipSync('<html><head><title>t</title>'));
    const page = buildBrowserResponse(
      {
        status: 200,
        statusText: 'OK',
        rawHeaders: [
          ['Content-Type', 'text/html'],
          ['Content-Encoding', 'gzip'],
        ],
        body: body(html),
      },
      { ...opts, injectShim: true },
    );
    expect(await page.text()).toBe(`<html><head>${SHIM_TAG}<title>t</title>`);
    const noInject = buildBrowserResponse(
      {
        status: 200,
        statusText: 'OK',
        rawHeaders: [['Content-Type', 'text/html']],
        body: body('<head>'),
      },
      opts,
    );
    expect(await noInject.text()).toBe('<head>');
  });
});

describe('proxy round trip against Node http', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  it('carries a Fetch Request to the app and the answer back as the browser sees it', async () => {
    let seen: IncomingMessage | undefined;
    let seenBody = '';
    server = createServer((req, res) => {
      seen = req;
      req.setEncoding('utf8');
      req.on('data', (d: string) => {
        seenBody += d;
      });
      req.on('end', () => {
        res.writeHead(303, [
          ['Location', 'http://chat.example.com/next'],
          ['Set-Cookie', 'MMAUTHTOKEN=x; HttpOnly'],
          ['Set-Cookie', 'MMCSRF=y'],
          ['Content-Type', 'text/plain'],
        ] as unknown as Record<string, string>);
        res.end('see other');
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const conn = new HttpConnection(await dialer((server.address() as { port: number }).port)());
    const request = new Request(`${PUB}/login?x=1`, {
      method: 'POST',
      body: 'user=a',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    const head = buildRequestHead(request, { ...opts, cookie: 'MMUSERID=u' });
    const { body, contentLength } = await readRequestBody(request);
    const res = await conn.request({ ...head, body, contentLength });
    expect(res.setCookies).toEqual(['MMAUTHTOKEN=x; HttpOnly', 'MMCSRF=y']);
    const out = buildBrowserResponse(res, opts);
    expect(seen!.headers).toMatchObject({
      host: 'chat.example.com',
      origin: PUB,
      cookie: 'MMUSERID=u',
      'x-forwarded-proto': 'https',
      'content-length': '6',
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(seen!.url).toBe('/login?x=1');
    expect(seenBody).toBe('user=a');
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe(`${PUB}/next`);
    expect(out.headers.has('set-cookie')).toBe(false);
    expect(await out.text()).toBe('see other');
    conn.close();
  });
});
