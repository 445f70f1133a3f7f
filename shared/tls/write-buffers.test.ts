/**
 * The buffers our records leave in, checked against Node's TLS server (OpenSSL) echoing them: a
 * transport that copies its writes (a browser's WebSocket) gets the same buffer again and again;
 * any other transport (a Node socket, which may still hold a write it accepted; Node's `ws`, which
 * compresses later) keeps every write exactly as it was handed over.
 */
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { ByteDuplex } from '../streams/duplex.ts';
import { webSocketDuplex } from '../streams/websocket.ts';
import { connectNode, type Listening, startNodeTlsServer } from './_test/node-peer.ts';
import { createPki, type TestPki } from './_test/pki.ts';
import { MAX_PLAINTEXT } from './constants.ts';
import { connectTls, type TlsConnection } from './index.ts';

let pki: TestPki;
let server: Listening & { errors: Error[] };

beforeAll(async () => {
  pki = await createPki();
  server = await startNodeTlsServer({ key: pki.serverEc.keyPem!, cert: pki.serverEc.chainPem });
});
afterAll(() => server.close());

interface Written {
  chunk: Uint8Array;
  /** The bytes of `chunk` when it was written. */
  atWrite: Uint8Array;
}

/**
 * The socket's transport with a log of every write. `copies`: the log's wrapper copies each chunk
 * before passing it on, as a WebSocket's send does, and says so (`writesCopied`).
 */
async function loggedTransport(copies: boolean): Promise<{ duplex: ByteDuplex; log: Written[] }> {
  const socket = await connectNode(server.port);
  const log: Written[] = [];
  const writer = socket.writable.getWriter();
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      const atWrite = chunk.slice();
      log.push({ chunk, atWrite });
      return writer.write(copies ? atWrite : chunk);
    },
    close: () => writer.close(),
    abort: (reason) => writer.abort(reason),
  });
  return {
    duplex: { readable: socket.readable, writable, ...(copies ? { writesCopied: true } : {}) },
    log,
  };
}

async function echo(conn: TlsConnection, data: Uint8Array): Promise<Uint8Array> {
  const reader = conn.readable.getReader();
  const out = new Uint8Array(data.length);
  const reading = (async () => {
    let got = 0;
    while (got < data.length) {
      const { value, done } = await reader.read();
      if (done) break;
      out.set(value, got);
      got += value.length;
    }
    return out.subarray(0, got);
  })();
  const writer = conn.writable.getWriter();
  // Several records in flight at once, so that the record layer batches and refills buffers.
  const writes: Promise<void>[] = [];
  for (let at = 0; at < data.length; at += MAX_PLAINTEXT) {
    writes.push(writer.write(data.subarray(at, at + MAX_PLAINTEXT)));
  }
  await Promise.all(writes);
  return reading;
}

const pattern = (n: number) => new Uint8Array(n).map((_, i) => (i * 131 + (i >>> 11)) & 0xff);

describe('the buffers records are written in', () => {
  it('a transport that copies its writes gets one buffer, refilled for every write', async () => {
    const { duplex, log } = await loggedTransport(true);
    const conn = await connectTls(duplex, {
      trustedCertificates: [pki.root.der],
      serverName: 'localhost',
    });
    const data = pattern(1 << 20);
    expect(Buffer.compare(await echo(conn, data), data)).toBe(0);
    const appWrites = log.slice(-8); // well past the handshake's own writes
    expect(appWrites.length).toBe(8);
    expect(new Set(appWrites.map((w) => w.chunk.buffer)).size).toBe(1);
    // So the first of them has long been overwritten: reuse is real, not assumed.
    expect(Buffer.compare(appWrites[0]!.chunk, appWrites[0]!.atWrite)).not.toBe(0);
    await conn.close();
  });

  it('any other transport keeps every write exactly as it was handed over', async () => {
    const { duplex, log } = await loggedTransport(false);
    const conn = await connectTls(duplex, {
      trustedCertificates: [pki.root.der],
      serverName: 'localhost',
    });
    const data = pattern(1 << 20);
    expect(Buffer.compare(await echo(conn, data), data)).toBe(0);
    expect(log.length).toBeGreaterThan(16);
    const changed = log.filter((w) => Buffer.compare(w.chunk, w.atWrite) !== 0);
    expect(changed).toEqual([]);
    await conn.close();
    expect(server.errors).toEqual([]);
  });
});

describe("over Node's `ws` with permessage-deflate", () => {
  it('records arrive intact: `ws` compresses a send later, so its writes are not reused', async () => {
    // A WebSocket bridge to the TLS server, compressing as OpenZiti's router may negotiate.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
    await once(wss, 'listening');
    wss.on('connection', (ws) => {
      const tcp = net.connect(server.port, '127.0.0.1');
      ws.on('message', (data: Buffer) => tcp.write(data));
      tcp.on('data', (data) => ws.send(data));
      ws.on('close', () => tcp.destroy());
      tcp.on('close', () => ws.close());
    });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`);
      const transport = await webSocketDuplex(ws as unknown as globalThis.WebSocket);
      expect(ws.extensions).toContain('permessage-deflate');
      const conn = await connectTls(transport, {
        trustedCertificates: [pki.root.der],
        serverName: 'localhost',
      });
      const data = pattern(1 << 20);
      expect(Buffer.compare(await echo(conn, data), data)).toBe(0);
      await conn.close();
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
    }
  });
});

describe('writes waiting for room', () => {
  it('fail with the connection when the transport stops taking writes and the peer goes away', async () => {
    let serverSide!: import('node:tls').TLSSocket;
    const peer = await startNodeTlsServer({
      key: pki.serverEc.keyPem!,
      cert: pki.serverEc.chainPem,
      onSecureConnection: (s) => {
        serverSide = s;
      },
    });
    try {
      const socket = await connectNode(peer.port);
      let stalled = false;
      const writer = socket.writable.getWriter();
      const writable = new WritableStream<Uint8Array>({
        // Once stalled, a write is never taken: as a transport whose peer stopped reading.
        write: (chunk) => (stalled ? new Promise<void>(() => {}) : writer.write(chunk)),
      });
      const conn = await connectTls(
        { readable: socket.readable, writable },
        { trustedCertificates: [pki.root.der], serverName: 'localhost' },
      );
      stalled = true;
      const reading = conn.readable.getReader().read();
      reading.catch(() => {});
      const w = conn.writable.getWriter();
      const writes = Array.from({ length: 12 }, () => w.write(new Uint8Array(MAX_PLAINTEXT)));
      for (const p of writes) p.catch(() => {});
      await vi.waitFor(() => expect(serverSide).toBeDefined());
      serverSide.destroy();
      const last = await writes[11]!.then(
        () => 'written',
        (e: { code?: string }) => e.code,
      );
      expect(last).toBe('ERR_TLS_TRANSPORT_CLOSED');
    } finally {
      await peer.close();
    }
  });
});
