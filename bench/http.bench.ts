/**
 * HTTP/1.1 response parsing throughput: our parser and connection against Node's own (llhttp),
 * on the same bytes from the same loopback server, for a Content-Length and a chunked body.
 * Also the parser alone, in memory, as the ceiling of the codec itself.
 */
import { Agent, createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dialer } from '../shared/http/_test/node-duplex.ts';
import { HttpConnection } from '../shared/http/connection.ts';
import { ResponseParser } from '../shared/http/response-parser.ts';
import { type Bench, type BenchResult, throughput } from './harness.ts';

const BODY_BYTES = 16 * 1024 * 1024;
const CHUNK = 64 * 1024;
const block = new Uint8Array(CHUNK).map((_, i) => i & 0xff);

function serve(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.url === '/length') res.setHeader('Content-Length', BODY_BYTES);
    // Without a length Node sends the same 64 KiB writes as chunks.
    let sent = 0;
    const pump = () => {
      while (sent < BODY_BYTES) {
        sent += CHUNK;
        if (!res.write(block)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      }),
    ),
  );
}

async function nodeClient(port: number, path: string, agent: Agent): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let n = 0;
      res.on('data', (d: Buffer) => {
        n += d.length;
      });
      res.on('end', () => (n === BODY_BYTES ? resolve() : reject(new Error(`got ${n} bytes`))));
      res.on('error', reject);
    }).on('error', reject);
  });
}

async function ourClient(conn: HttpConnection, path: string): Promise<void> {
  const res = await conn.request({ method: 'GET', target: path, headers: { Host: 'bench' } });
  const reader = res.body!.getReader();
  let n = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    n += r.value.length;
  }
  if (n !== BODY_BYTES) throw new Error(`got ${n} bytes`);
}

/** The same response bytes as the server sends, pre-built, fed to the parser in 64 KiB slices. */
function inMemory(kind: 'length' | 'chunked'): Uint8Array[] {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  if (kind === 'length') {
    parts.push(enc.encode(`HTTP/1.1 200 OK\r\nContent-Length: ${BODY_BYTES}\r\n\r\n`));
    for (let s = 0; s < BODY_BYTES; s += CHUNK) parts.push(block);
  } else {
    parts.push(enc.encode('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'));
    const framed = new Uint8Array(CHUNK + 9);
    framed.set(enc.encode(`${CHUNK.toString(16)}\r\n`), 0);
    framed.set(block, 7);
    framed.set(enc.encode('\r\n'), CHUNK + 7);
    const used = framed.subarray(0, CHUNK + 9);
    for (let s = 0; s < BODY_BYTES; s += CHUNK) parts.push(used);
    parts.push(enc.encode('0\r\n\r\n'));
  }
  // Re-slice at 64 KiB so chunk frames straddle input boundaries, as on a real connection.
  const total = parts.reduce((a, p) => a + p.length, 0);
  const flat = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    flat.set(p, o);
    o += p.length;
  }
  const out: Uint8Array[] = [];
  for (let s = 0; s < total; s += CHUNK) out.push(flat.subarray(s, s + CHUNK));
  return out;
}

function parseAll(slices: Uint8Array[]): void {
  const p = new ResponseParser({ method: 'GET' });
  let n = 0;
  for (const s of slices) {
    for (const e of p.push(s)) if (e.type === 'data') n += e.data.length;
  }
  if (n !== BODY_BYTES || !p.done) throw new Error(`parsed ${n} bytes`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const bench: Bench = async () => {
  const results: BenchResult[] = [];
  const server = await serve();
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const conn = new HttpConnection(await dialer(server.port)());
  try {
    for (const [path, label] of [
      ['/length', 'content-length'],
      ['/chunked', 'chunked'],
    ] as const) {
      // Alternating rounds, median of each: the machine is shared, so single runs are noisy.
      const nodeRuns: number[] = [];
      const ourRuns: number[] = [];
      for (let round = 0; round < 3; round++) {
        nodeRuns.push(
          await throughput(BODY_BYTES, () => nodeClient(server.port, path, agent), 700),
        );
        ourRuns.push(await throughput(BODY_BYTES, () => ourClient(conn, path), 700));
      }
      const node = median(nodeRuns);
      const ours = median(ourRuns);
      results.push({
        suite: 'http',
        name: `loopback ${label} body (HttpConnection)`,
        value: ours,
        unit: 'MB/s',
        baseline: { name: 'node http', value: node },
        note: '16 MiB bodies, 64 KiB writes, keep-alive, median of 3',
      });
    }
    for (const kind of ['length', 'chunked'] as const) {
      const slices = inMemory(kind);
      const mbs = await throughput(BODY_BYTES, () => parseAll(slices), 1000);
      results.push({
        suite: 'http',
        name: `parser only, ${kind === 'length' ? 'content-length' : 'chunked'} (in memory)`,
        value: mbs,
        unit: 'MB/s',
        note: '64 KiB slices; body bytes are sliced, never copied or scanned',
      });
    }
  } finally {
    conn.close();
    agent.destroy();
    await server.close();
  }
  return results;
};

export default bench;
