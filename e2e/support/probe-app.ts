/**
 * The default dark app of the e2e network fixture (e2e/support/fabric.ts) and of the browser-path
 * benchmark: a loopback HTTP server that records every request and offers what the tests measure:
 * pages, cookies (including one per SameSite policy), large deterministic downloads, uploads it
 * verifies as they stream in, redirects, a CORS API for other origins (`/cors/echo`), an app shell
 * with its assets (`/shell`, `/asset/*`), a page whose Content-Security-Policy uses a nonce and
 * 'strict-dynamic', a WebSocket echo (`/ws-echo`), and pages behind HTTP Basic authentication
 * (`/basic/*`: user `alice`, password `wonderland`, realm "probe"; `/basic/logout` always 401).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export interface ProbeRequest {
  method: string;
  url: string;
  host: string;
  cookie: string;
  /** `Origin` and `Sec-Fetch-Site` as received ('' when absent). */
  origin: string;
  fetchSite: string;
  /** `Authorization` as received ('' when absent). */
  authorization: string;
  /** `Referer` as received ('' when absent). */
  referer: string;
  remoteAddress: string;
  /** `Range` and `If-Range` as received ('' when absent). */
  range: string;
  ifRange: string;
  /** `/file`: whether the whole response was sent, or the connection ended before (`cut`). */
  sent?: 'whole' | 'cut';
}

/** The `/basic/*` pages' account and realm. */
export const BASIC_USER = 'alice';
export const BASIC_PASSWORD = 'wonderland';
export const BASIC_REALM = 'probe';

/** Word `i` of `/file`: computed from its position, so any range can be produced and checked. */
export const fileWord = (i: number): number => Math.imul(i ^ 0x5bd1e995, 0x9e3779b1) >>> 0;

/** The xorshift32 stream both sides can produce and check without storing it. */
export function fillXorshift(out: Uint32Array, seed: number): number {
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x;
  }
  return x;
}

const CHUNK_WORDS = 16 * 1024;

export const PROBE_TITLE = 'probe app behind the tunnel';

export async function startProbeApp(host: string) {
  const requests: ProbeRequest[] = [];
  const record = (req: IncomingMessage) =>
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      host: req.headers.host ?? '',
      cookie: req.headers.cookie ?? '',
      origin: req.headers.origin ?? '',
      fetchSite: String(req.headers['sec-fetch-site'] ?? ''),
      authorization: req.headers.authorization ?? '',
      referer: req.headers.referer ?? '',
      remoteAddress: req.socket.remoteAddress ?? '',
      range: req.headers.range ?? '',
      ifRange: String(req.headers['if-range'] ?? ''),
    });
  const server = createServer(async (req: IncomingMessage, res) => {
    record(req);
    const url = new URL(req.url ?? '/', 'http://probe');
    switch (url.pathname) {
      case '/bytes': {
        // n bytes of the xorshift stream (n a multiple of 4), streamed with backpressure; with
        // `pauseMs`, that long a pause after each chunk (a slow server); with `headDelayMs`, that
        // long before the response head (a server thinking, or a long upload before the answer).
        const n = Number(url.searchParams.get('n') ?? 0) & ~3;
        const pauseMs = Number(url.searchParams.get('pauseMs') ?? 0);
        const headDelayMs = Number(url.searchParams.get('headDelayMs') ?? 0);
        if (headDelayMs > 0) await new Promise((r) => setTimeout(r, headDelayMs));
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': n,
          'cache-control': 'no-store',
        });
        let seed = 1;
        for (let sent = 0; sent < n; sent += CHUNK_WORDS * 4) {
          const words = new Uint32Array(Math.min(CHUNK_WORDS, (n - sent) / 4));
          seed = fillXorshift(words, seed);
          if (!res.write(new Uint8Array(words.buffer)))
            await new Promise((r) => res.once('drain', r));
          if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
        }
        res.end();
        return;
      }
      case '/file': {
        // n bytes (a multiple of 4) of `fileWord`, served as a file server serves a file: length,
        // a strong ETag, `Accept-Ranges`, and `Range: bytes=first-` or `bytes=first-last` honoured
        // when `If-Range` still matches (a stale one gets the whole file, as RFC 9110 says). With
        // `cutAt`, a response from the start loses its connection after that many bytes (a server
        // or network gone).
        const n = Number(url.searchParams.get('n') ?? 0) & ~3;
        const cutAt = Number(url.searchParams.get('cutAt') ?? n);
        const etag = `"file-${n}"`;
        const entry = requests[requests.length - 1]!;
        const ranged = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
        const valid = ranged && (req.headers['if-range'] ?? etag) === etag;
        const from = valid ? Number(ranged[1]) : 0;
        const last = valid && ranged[2] ? Math.min(Number(ranged[2]), n - 1) : n - 1;
        if (valid && (from >= n || last < from)) {
          res.writeHead(416, { 'content-range': `bytes */${n}` });
          res.end();
          return;
        }
        res.writeHead(valid ? 206 : 200, {
          'content-type': 'application/octet-stream',
          'content-length': last + 1 - from,
          'accept-ranges': 'bytes',
          etag,
          ...(valid && { 'content-range': `bytes ${from}-${last}/${n}` }),
        });
        res.once('close', () => {
          entry.sent = res.writableFinished ? 'whole' : 'cut';
        });
        const cut = valid ? undefined : Math.min(n, cutAt);
        const end = cut ?? last + 1;
        for (let word = Math.floor(from / 4); word * 4 < end && !res.destroyed; ) {
          const words = new Uint32Array(Math.min(CHUNK_WORDS, n / 4 - word));
          for (let i = 0; i < words.length; i++) words[i] = fileWord(word + i);
          const bytes = new Uint8Array(words.buffer);
          const skip = word * 4 < from ? from - word * 4 : 0;
          const at = word * 4;
          word += words.length;
          if (at + bytes.length >= end) {
            if (cut !== undefined && cut < n) {
              res.write(bytes.subarray(skip, end - at), () => req.socket.end());
              return;
            }
            res.end(bytes.subarray(skip, end - at));
            return;
          }
          if (!res.write(bytes.subarray(skip)))
            await new Promise<void>((r) => {
              const go = () => {
                res.off('drain', go).off('close', go);
                r();
              };
              res.on('drain', go).on('close', go);
            });
        }
        res.end();
        return;
      }
      case '/upload': {
        // Verifies the xorshift stream as it arrives and reports length, sha-256 and whether it matched.
        const hash = createHash('sha256');
        let length = 0;
        let seed = 1;
        let ok = true;
        let pending: Buffer = Buffer.alloc(0);
        // An upload the client gave up on ends the request with an error: nothing to answer.
        const chunks = (async function* () {
          try {
            yield* req as AsyncIterable<Buffer>;
          } catch {
            res.destroy();
          }
        })();
        for await (const chunk of chunks) {
          hash.update(chunk);
          length += chunk.length;
          pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
          const usable = pending.length & ~3;
          const got = new Uint32Array(
            pending.buffer.slice(pending.byteOffset, pending.byteOffset + usable),
          );
          const want = new Uint32Array(got.length);
          seed = fillXorshift(want, seed);
          for (let i = 0; i < got.length && ok; i++) if (got[i] !== want[i]) ok = false;
          pending = pending.subarray(usable);
        }
        if (res.destroyed) return;
        const body = JSON.stringify({
          length,
          sha256: hash.digest('hex'),
          matches: ok && pending.length === 0,
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
        return;
      }
      case '/cookies/set':
        res.writeHead(204, {
          'set-cookie': [
            'probe_session=secret-value; Path=/; HttpOnly; SameSite=Lax',
            'probe_visible=hello; Path=/; SameSite=Lax',
          ],
        });
        res.end();
        return;
      case '/cookies/samesite':
        // One cookie per SameSite policy, as apps use them against cross-site requests.
        res.writeHead(204, {
          'set-cookie': [
            'ss_strict=1; Path=/; SameSite=Strict',
            'ss_lax=1; Path=/; SameSite=Lax',
            'ss_none=1; Path=/; SameSite=None; Secure',
          ],
        });
        res.end();
        return;
      case '/cors/echo': {
        // An API for other origins: a preflight allows PUT with X-A for the asking origin.
        const cors = {
          'access-control-allow-origin': req.headers.origin ?? '*',
          'access-control-allow-credentials': 'true',
        };
        if (req.method === 'OPTIONS') {
          res.writeHead(204, {
            ...cors,
            'access-control-allow-methods': 'PUT',
            'access-control-allow-headers': 'X-A',
          });
          res.end();
          return;
        }
        res.writeHead(200, { ...cors, 'content-type': 'text/plain', 'x-not-exposed': '1' });
        res.end(`cors ok ${req.method} ${req.headers['x-a'] ?? ''}`);
        return;
      }
      case '/cookies/echo':
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
        res.end(req.headers.cookie ?? '');
        return;
      case '/shell': {
        // An app shell: HTML, a script, a stylesheet and images, as a warm page load fetches them.
        const assets = [
          '<script src="/asset/app.js?size=300000"></script>',
          '<link rel="stylesheet" href="/asset/app.css?size=40000">',
          ...Array.from(
            { length: 8 },
            (_, i) => `<img src="/asset/img${i}.png?size=30000" alt="">`,
          ),
        ];
        const html = `<!doctype html><html><head><meta charset="utf-8"><title>${PROBE_TITLE}</title>${assets.slice(0, 2).join('')}</head><body><h1 id="probe">shell</h1>${assets.slice(2).join('')}</body></html>`;
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-cache',
        });
        res.end(html);
        return;
      }
      case '/csp-nonce': {
        // A page as a nonce-based CSP app serves it: only scripts carrying this response's nonce,
        // and what they load, may run. Its script opens a WebSocket to its own origin.
        const nonce = randomBytes(16).toString('base64');
        const script = `window.cspSocket = new Promise((resolve) => {
  const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/ws-echo');
  ws.onopen = () => ws.send('ping');
  ws.onmessage = (e) => { resolve(String(e.data)); ws.close(); };
  ws.onerror = () => resolve('error');
});`;
        const html = `<!doctype html><html><head><meta charset="utf-8"><title>${PROBE_TITLE}</title><script nonce="${nonce}">${script}</script></head><body><h1 id="probe">csp nonce</h1></body></html>`;
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': `script-src 'nonce-${nonce}' 'strict-dynamic'; object-src 'none'; base-uri 'none'`,
          'cache-control': 'no-store',
        });
        res.end(html);
        return;
      }
      case '/redirect':
        res.writeHead(302, { location: `http://${req.headers.host}/landing?from=redirect` });
        res.end();
        return;
      default: {
        // --- /strange/*: what real apps do that bypasses a service worker in some browsers
        // (e2e/frames-sync-xhr.spec.ts). `/strange/data` answers text naming the request, readable
        // from any origin (a dark sibling host too); any other `/strange/*` path is an app page
        // without a Content-Security-Policy, so frames may run inline script.
        if (url.pathname.startsWith('/strange/')) {
          if (url.pathname === '/strange/data') {
            res.writeHead(200, {
              'content-type': 'text/plain; charset=utf-8',
              'access-control-allow-origin': '*',
              'cache-control': 'no-store',
            });
            res.end(`strange ${req.method} ${req.url}`);
            return;
          }
          res.writeHead(200, {
            'content-type': 'text/html; charset=utf-8',
            'cache-control': 'no-store',
          });
          res.end(
            `<!doctype html><html><head><meta charset="utf-8"><title>${PROBE_TITLE}</title></head><body><h1 id="probe">strange ${url.pathname}</h1></body></html>`,
          );
          return;
        }
        // --- end of /strange/*
        if (url.pathname.startsWith('/basic/')) {
          // HTTP Basic authentication, as a web server in front of an app asks for it; the logout
          // URL answers 401 whatever comes, which is how such apps make the browser forget.
          const expected = `Basic ${Buffer.from(`${BASIC_USER}:${BASIC_PASSWORD}`).toString('base64')}`;
          const loggedOut = url.pathname === '/basic/logout';
          if (loggedOut || req.headers.authorization !== expected) {
            res.writeHead(401, {
              'www-authenticate': `Basic realm="${BASIC_REALM}", charset="UTF-8"`,
              'content-type': 'text/html; charset=utf-8',
              'cache-control': 'no-store',
            });
            res.end(
              `<!doctype html><html><head><meta charset="utf-8"><title>${PROBE_TITLE}</title></head><body><h1 id="probe">${loggedOut ? 'logged out' : 'unauthorized'}</h1></body></html>`,
            );
            return;
          }
          if (url.pathname === '/basic/data') {
            res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
            res.end(JSON.stringify({ user: BASIC_USER }));
            return;
          }
          res.writeHead(200, {
            'content-type': 'text/html; charset=utf-8',
            'cache-control': 'no-store',
          });
          res.end(
            `<!doctype html><html><head><meta charset="utf-8"><title>${PROBE_TITLE}</title></head><body><h1 id="probe">basic ${url.pathname}</h1></body></html>`,
          );
          return;
        }
        if (url.pathname.startsWith('/asset/')) {
          const size = Number(url.searchParams.get('size') ?? 1000);
          const type = url.pathname.endsWith('.js')
            ? 'text/javascript'
            : url.pathname.endsWith('.css')
              ? 'text/css'
              : 'image/png';
          const body =
            type === 'image/png'
              ? Buffer.alloc(size)
              : Buffer.from(`/*${'x'.repeat(Math.max(0, size - 4))}*/`);
          // no-store: the browser caches nothing, so warm loads still cross the tunnel.
          res.writeHead(200, {
            'content-type': type,
            'content-length': body.length,
            'cache-control': 'no-store',
          });
          res.end(body);
          return;
        }
        const html = `<!doctype html><html><head><meta charset="utf-8"><title>${PROBE_TITLE}</title></head><body><h1 id="probe">dark ${url.pathname}</h1></body></html>`;
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': "script-src 'self'",
          'cache-control': 'no-store',
        });
        res.end(html);
      }
    }
  });
  // `/ws-echo`: a WebSocket that answers each text message with "echo: " and the message.
  const sockets = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    record(req);
    if (new URL(req.url ?? '/', 'http://probe').pathname !== '/ws-echo') {
      socket.destroy();
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) =>
      ws.on('message', (data, binary) => ws.send(binary ? data : `echo: ${String(data)}`)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of sockets.clients) ws.terminate();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
