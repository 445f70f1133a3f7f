/**
 * A tiny loopback HTTP app for fabric tests: `/` is a page, `/bytes?n=N` streams N deterministic
 * pseudo-random bytes (see `deterministicBytes`), `/echo` returns the request body.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const TEST_APP_TITLE = 'fabric test app';

/** Fills `out` with the xorshift32 stream that starts at `seed`; returns the next seed. */
export function fillDeterministic(out: Uint8Array, seed: number): number {
  let x = seed >>> 0 || 0x9e3779b9;
  const words = new Uint32Array(out.buffer, out.byteOffset, out.length >> 2);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return x;
}

const CHUNK = 64 * 1024;

/** Calls `onChunk` with the deterministic stream of `n` bytes (n a multiple of 4). */
export function* deterministicBytes(n: number): Generator<Uint8Array> {
  let seed = 1;
  for (let sent = 0; sent < n; sent += CHUNK) {
    const chunk = new Uint8Array(Math.min(CHUNK, n - sent));
    seed = fillDeterministic(chunk, seed);
    yield chunk;
  }
}

export async function startTestApp(
  host = '127.0.0.1',
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://app');
    if (url.pathname === '/') {
      const body = `<!doctype html><title>${TEST_APP_TITLE}</title><p>hello from the dark</p>`;
      res.writeHead(200, {
        'content-type': 'text/html',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
    if (url.pathname === '/bytes') {
      const n = Number(url.searchParams.get('n') ?? 0) & ~3;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
      for (const chunk of deterministicBytes(n)) {
        if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
      }
      res.end();
      return;
    }
    if (url.pathname === '/echo') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.pipe(res);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
