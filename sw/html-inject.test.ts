import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { createHeadInjector, cspScriptNonce, injectShim, isHtml, SHIM_TAG } from './html-inject.ts';

const enc = new TextEncoder();
const T = SHIM_TAG;

async function run(chunks: Uint8Array[]): Promise<string> {
  const input = new ReadableStream<Uint8Array>({
    start(c) {
      for (const ch of chunks) c.enqueue(ch);
      c.close();
    },
  });
  const out: Uint8Array[] = [];
  for await (const ch of input.pipeThrough(
    createHeadInjector(),
  ) as unknown as AsyncIterable<Uint8Array>)
    out.push(ch);
  return Buffer.concat(out).toString('latin1');
}

/** Runs the input whole, split at every byte boundary, and byte by byte; all must agree. */
async function inject(doc: string | Uint8Array): Promise<string> {
  const bytes = typeof doc === 'string' ? enc.encode(doc) : doc;
  const whole = await run([bytes]);
  for (let i = 0; i <= bytes.length; i++) {
    expect(await run([bytes.subarray(0, i), bytes.subarray(i)])).toBe(whole);
  }
  expect(await run(Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)))).toBe(whole);
  return whole;
}

const cases: [string, string, string][] = [
  [
    'a plain head',
    '<!DOCTYPE html><html><head><title>x</title></head><body></body></html>',
    `<!DOCTYPE html><html><head>${T}<title>x</title></head><body></body></html>`,
  ],
  [
    'head with attributes',
    '<html lang="en"><head profile="a>b"><meta charset="utf-8">',
    `<html lang="en"><head profile="a>b">${T}<meta charset="utf-8">`,
  ],
  [
    'uppercase tags',
    '<!doctype HTML>\n<HTML>\n<HEAD>\n<META>',
    `<!doctype HTML>\n<HTML>\n<HEAD>${T}\n<META>`,
  ],
  [
    'comments before html and head',
    '<!-- a <head> in a comment -->\n<html><!-- x --><head>',
    `<!-- a <head> in a comment -->\n<html><!-- x --><head>${T}`,
  ],
  [
    'a quoted > in html attributes',
    "<html data-x='<head>'><head>",
    `<html data-x='<head>'><head>${T}`,
  ],
  [
    'missing head: first element',
    '<!DOCTYPE html><html><meta charset=utf-8><title>t</title>',
    `<!DOCTYPE html><html>${T}<meta charset=utf-8><title>t</title>`,
  ],
  [
    'missing head and html',
    '<!DOCTYPE html>\n<title>t</title>',
    `<!DOCTYPE html>\n${T}<title>t</title>`,
  ],
  ['missing head: body first', '<html><body>hi', `<html>${T}<body>hi`],
  ['text first', 'hello <b>world</b>', `${T}hello <b>world</b>`],
  ['a header element is not a head', '<html><header>h</header>', `<html>${T}<header>h</header>`],
  ['a headline element is not a head', '<html><headline>', `<html>${T}<headline>`],
  [
    'an xml declaration',
    '<?xml version="1.0"?><html><head>',
    `<?xml version="1.0"?><html><head>${T}`,
  ],
  ['abrupt comments', '<!--><!---><head>', `<!--><!---><head>${T}`],
  [
    'a comment with dashes inside',
    '<!-- a -- b --- c ---><head>',
    `<!-- a -- b --- c ---><head>${T}`,
  ],
  ['self-closing head', '<head/><title>', `<head/>${T}<title>`],
  ['an end tag first', '</p><head>', `${T}</p><head>`],
  ['empty document', '', T],
  ['only a doctype', '<!DOCTYPE html>', `<!DOCTYPE html>${T}`],
  [
    'the rest untouched',
    '<head></head><body><head>second</head><!-- --></body>',
    `<head>${T}</head><body><head>second</head><!-- --></body>`,
  ],
];

describe('createHeadInjector', () => {
  for (const [name, input, expected] of cases) {
    it(`handles ${name}`, async () => {
      expect(await inject(input)).toBe(expected);
    });
  }

  it('keeps a UTF-8 BOM first', async () => {
    const doc = new Uint8Array([0xef, 0xbb, 0xbf, ...enc.encode('<html><head><title>é</title>')]);
    const out = await inject(doc);
    expect(out).toBe(
      Buffer.from([0xef, 0xbb, 0xbf, ...enc.encode(`<html><head>${T}<title>é</title>`)]).toString(
        'latin1',
      ),
    );
  });

  it('passes UTF-16 through untouched', async () => {
    const doc = Buffer.from('\ufeff<html><head>', 'utf16le');
    expect(await inject(doc)).toBe(doc.toString('latin1'));
  });

  it('streams: output after the head is not held back and chunks pass through', async () => {
    const ts = createHeadInjector();
    const w = ts.writable.getWriter();
    const r = ts.readable.getReader();
    void w.write(enc.encode('<html><he'));
    void w.write(enc.encode('ad>'));
    let got = '';
    while (!got.includes(T)) got += new TextDecoder().decode((await r.read()).value);
    expect(got).toBe(`<html><head>${T}`);
    const big = new Uint8Array(1 << 20).fill(0x61);
    void w.write(big);
    expect((await r.read()).value).toBe(big);
    void w.close();
  });

  it('holds back only the current token', async () => {
    const ts = createHeadInjector();
    const w = ts.writable.getWriter();
    const r = ts.readable.getReader();
    void w.write(enc.encode('<!DOCTYPE html>\n<!-- long comment'));
    expect(new TextDecoder().decode((await r.read()).value)).toBe('<!DOCTYPE html>');
    void w.close();
  });
});

function stream(bytes: Uint8Array, chunk = 7): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (let i = 0; i < bytes.length; i += chunk) c.enqueue(bytes.slice(i, i + chunk));
      c.close();
    },
  });
}

async function text(body: ReadableStream<Uint8Array> | null): Promise<string> {
  return new Response(body).text();
}

describe('injectShim', () => {
  const html = '<!DOCTYPE html><html><head><title>Mattermost</title></head><body>é</body></html>';
  const injected = `<!DOCTYPE html><html><head>${T}<title>Mattermost</title></head><body>é</body></html>`;

  it('injects into text/html, drops Content-Length, keeps the rest (CSP too)', async () => {
    const headers = new Headers({
      'content-type': 'text/html; charset=utf-8',
      'content-length': String(enc.encode(html).length),
      'content-security-policy': "script-src 'self'",
      etag: '"1"',
    });
    const r = injectShim(200, headers, stream(enc.encode(html)));
    expect(r.injected).toBe(true);
    expect(r.headers.has('content-length')).toBe(false);
    expect(r.headers.get('content-security-policy')).toBe("script-src 'self'");
    expect(r.headers.get('etag')).toBe('"1"');
    expect(await text(r.body)).toBe(injected);
  });

  for (const [coding, compress] of [
    ['gzip', gzipSync],
    ['deflate', deflateSync],
  ] as const) {
    it(`decompresses ${coding} HTML, injects, and drops Content-Encoding`, async () => {
      const body = compress(enc.encode(html));
      const headers = new Headers({
        'content-type': 'text/html',
        'content-encoding': coding,
        'content-length': String(body.length),
        vary: 'Accept-Encoding',
      });
      const r = injectShim(200, headers, stream(new Uint8Array(body), 5));
      expect(r.injected).toBe(true);
      expect(r.headers.has('content-encoding')).toBe(false);
      expect(r.headers.has('content-length')).toBe(false);
      expect(r.headers.get('vary')).toBe('Accept-Encoding');
      expect(await text(r.body)).toBe(injected);
    });
  }

  it('leaves other types, 206 parts, bodiless and undecodable responses alone', async () => {
    const js = new Headers({ 'content-type': 'application/javascript' });
    expect(injectShim(200, js, stream(enc.encode('x'))).injected).toBe(false);
    const h = new Headers({ 'content-type': 'text/html' });
    expect(injectShim(206, h, stream(enc.encode('x'))).injected).toBe(false);
    expect(injectShim(304, h, null).injected).toBe(false);
    const br = new Headers({ 'content-type': 'text/html', 'content-encoding': 'br' });
    const body = stream(new Uint8Array(brotliCompressSync(enc.encode(html))));
    const r = injectShim(200, br, body);
    expect(r.injected).toBe(false);
    expect(r.body).toBe(body);
    expect(r.headers.get('content-encoding')).toBe('br');
  });

  it('also takes and returns a whole Response', async () => {
    const res = new Response(html, {
      status: 200,
      statusText: 'OK',
      headers: { 'content-type': 'text/html', 'x-a': '1' },
    });
    const out = injectShim(res);
    expect(out.status).toBe(200);
    expect(out.headers.get('x-a')).toBe('1');
    expect(await out.text()).toBe(injected);
    const js = new Response('x', { headers: { 'content-type': 'text/javascript' } });
    expect(injectShim(js)).toBe(js);
  });

  it('recognises the HTML MIME essence only', () => {
    expect(isHtml(new Headers({ 'content-type': 'TEXT/HTML ; charset=x' }))).toBe(true);
    expect(isHtml(new Headers({ 'content-type': 'text/html-sandboxed' }))).toBe(false);
    expect(isHtml(new Headers({ 'content-type': 'application/xhtml+xml' }))).toBe(false);
    expect(isHtml(new Headers())).toBe(false);
  });
});

describe('Content-Security-Policy nonce for the shim', () => {
  const csp = (...policies: string[]) =>
    new Headers(policies.map((p) => ['content-security-policy', p] as [string, string]));

  it("takes the nonce a script policy requires ('strict-dynamic' or no 'self')", () => {
    expect(cspScriptNonce(csp("script-src 'nonce-r4nd0m+/=' 'strict-dynamic'"))).toEqual({
      nonce: 'r4nd0m+/=',
    });
    expect(cspScriptNonce(csp("default-src 'none'; script-src 'NONCE-abc_-'"))).toEqual({
      nonce: 'abc_-',
    });
    // 'self' is ignored next to 'strict-dynamic'.
    expect(cspScriptNonce(csp("script-src 'self' 'nonce-abc' 'strict-dynamic'"))).toEqual({
      nonce: 'abc',
    });
  });

  it('reads script-src-elem, else script-src, else default-src; the first of a directive wins', () => {
    expect(
      cspScriptNonce(csp("default-src 'nonce-d'; script-src 'nonce-s'; script-src-elem 'nonce-e'")),
    ).toEqual({ nonce: 'e' });
    expect(cspScriptNonce(csp("default-src 'nonce-d'; script-src 'nonce-s'"))).toEqual({
      nonce: 's',
    });
    expect(cspScriptNonce(csp("default-src 'nonce-d'; img-src 'self'"))).toEqual({ nonce: 'd' });
    expect(cspScriptNonce(csp("SCRIPT-SRC 'nonce-a'; script-src 'nonce-b'"))).toEqual({
      nonce: 'a',
    });
  });

  it("needs none when no policy restricts scripts or each allows 'self' (or *)", () => {
    expect(cspScriptNonce(new Headers())).toEqual({});
    expect(cspScriptNonce(csp("img-src 'none'; frame-ancestors 'none'"))).toEqual({});
    expect(cspScriptNonce(csp("script-src 'self' 'nonce-abc'"))).toEqual({});
    expect(cspScriptNonce(csp('default-src *'))).toEqual({});
    // Report-only policies block nothing.
    expect(
      cspScriptNonce(
        new Headers({
          'content-security-policy-report-only': "script-src 'nonce-x' 'strict-dynamic'",
        }),
      ),
    ).toEqual({});
  });

  it('finds the one nonce every enforced policy accepts, across headers and comma-joined policies', () => {
    expect(
      cspScriptNonce(
        csp("script-src 'nonce-a' 'nonce-b' 'strict-dynamic'", "script-src 'nonce-b'; img-src *"),
      ),
    ).toEqual({ nonce: 'b' });
    expect(
      cspScriptNonce(csp("script-src 'nonce-a' 'strict-dynamic', default-src 'self'")),
    ).toEqual({ nonce: 'a' });
  });

  it('reports when no single nonce can do (different nonces, or a policy with none)', () => {
    expect(cspScriptNonce(csp("script-src 'nonce-a'", "script-src 'nonce-b'")).blocked).toMatch(
      /different nonces/,
    );
    expect(cspScriptNonce(csp("script-src 'nonce-a', script-src 'nonce-b'")).blocked).toMatch(
      /different nonces/,
    );
    expect(cspScriptNonce(csp("script-src https://cdn.example 'strict-dynamic'")).blocked).toMatch(
      /allows no script of ours/,
    );
    // A value that is not a CSP nonce (it could break out of the attribute) is never used.
    expect(cspScriptNonce(csp(`script-src 'nonce-a"><x' 'strict-dynamic'`)).blocked).toBeDefined();
  });

  it('puts the nonce on the injected element and leaves the policy header as it is', async () => {
    const policy = "script-src 'nonce-Zm9vYmFy' 'strict-dynamic'; object-src 'none'";
    const headers = new Headers({ 'content-type': 'text/html', 'content-security-policy': policy });
    const r = injectShim(200, headers, stream(enc.encode('<html><head><title>t</title>')));
    expect(await text(r.body)).toBe(
      '<html><head><script src="/__zt/shim.js" nonce="Zm9vYmFy"></script><title>t</title>',
    );
    expect(r.headers.get('content-security-policy')).toBe(policy);
  });

  it('injects the plain element, with a warning, when the policies leave no way in', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const headers = csp("script-src 'nonce-a'", "script-src 'nonce-b'");
    headers.set('content-type', 'text/html');
    const r = injectShim(200, headers, stream(enc.encode('<head>')));
    expect(await text(r.body)).toBe(`<head>${T}`);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/will block the shim/));
    warn.mockRestore();
  });
});
