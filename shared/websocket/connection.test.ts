/**
 * The client against an independent peer: the `ws` server over real TCP, through the project's
 * HTTP/1.1 upgrade. Protocol errors use a raw upgrade server that writes hand-made bytes.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { dialer } from '../http/_test/node-duplex.ts';
import { HttpConnection } from '../http/connection.ts';
import { connectWebSocket } from './connect.ts';
import type { WebSocketClientConnectionOptions } from './connection.ts';
import { type DecodedEvent, FrameDecoder } from './frame-decoder.ts';
import { computeAccept } from './handshake.ts';

let server: Server;
let wss: WebSocketServer;
let port: number;
const serverSockets: WsSocket[] = [];

beforeAll(async () => {
  server = createServer((_req, res) => res.writeHead(403).end('no'));
  wss = new WebSocketServer({
    server,
    maxPayload: 64 * 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
  });
  wss.on('connection', (ws, req) => {
    serverSockets.push(ws);
    const path = req.url ?? '/';
    if (path.startsWith('/echo'))
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  wss.close();
  await new Promise((r) => server.close(r));
});

async function open(path = '/echo', extra: Partial<Parameters<typeof connectWebSocket>[1]> = {}) {
  const duplex = await dialer(port)();
  const http = new HttpConnection(duplex);
  const before = serverSockets.length;
  const r = await connectWebSocket((req) => http.upgrade(req), {
    url: `ws://127.0.0.1:${port}${path}`,
    origin: 'http://app.test',
    receiveHighWaterMark: 64 * 1024,
    ...extra,
  });
  while (serverSockets.length === before) await new Promise((res) => setTimeout(res, 1));
  return { ...r, peer: serverSockets[serverSockets.length - 1] as WsSocket };
}

async function next(conn: Awaited<ReturnType<typeof open>>['conn']) {
  const reader = conn.messages.getReader();
  try {
    const r = await reader.read();
    return r.value;
  } finally {
    reader.releaseLock();
  }
}

describe('WebSocketClientConnection against ws', () => {
  it('negotiates a subprotocol and echoes text and binary', async () => {
    const { conn, protocol, extensions, peer } = await open('/echo', { protocols: ['x', 'chat'] });
    expect(protocol).toBe('chat');
    expect(extensions).toBe('');
    expect(peer.protocol).toBe('chat');
    await conn.send('héllo 😀');
    expect(await next(conn)).toEqual({ type: 'text', data: 'héllo 😀' });
    await conn.send(new Uint8Array([1, 2, 3]));
    expect(await next(conn)).toEqual({ type: 'binary', data: new Uint8Array([1, 2, 3]) });
    await conn.send('');
    expect(await next(conn)).toEqual({ type: 'text', data: '' });
    expect((await conn.close(1000)).wasClean).toBe(true);
  });

  it('echoes binary messages from 1 byte to 16 MiB, fragmented on send', async () => {
    const { conn } = await open('/echo', { fragmentSize: 256 * 1024 });
    for (const size of [1, 125, 126, 65535, 65536, 1024 * 1024 + 3, 16 * 1024 * 1024]) {
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i += 997) data[i] = (i / 997) & 0xff;
      data[size - 1] = 0x5a;
      const sent = conn.send(data);
      expect(conn.bufferedAmount).toBeGreaterThan(0);
      await sent;
      const got = await next(conn);
      expect(got?.type).toBe('binary');
      expect(Buffer.from(got?.data as Uint8Array).equals(Buffer.from(data))).toBe(true);
    }
    expect(conn.bufferedAmount).toBe(0);
    await conn.close();
  }, 60_000);

  it('reassembles fragmented messages from the server', async () => {
    const { conn, peer } = await open('/plain');
    peer.send('frag', { fin: false });
    peer.send('men', { fin: false });
    peer.send('ted', { fin: true });
    peer.send(Buffer.from([9]), { binary: true, fin: false });
    peer.ping('between fragments');
    peer.send(Buffer.from([8]), { binary: true, fin: true });
    expect(await next(conn)).toEqual({ type: 'text', data: 'fragmented' });
    expect(await next(conn)).toEqual({ type: 'binary', data: new Uint8Array([9, 8]) });
    await conn.close();
  });

  it('answers pings with pongs and receives pongs to its pings', async () => {
    const pongs: string[] = [];
    const { conn, peer } = await open('/plain', {
      onPong: (d: Uint8Array) => pongs.push(new TextDecoder().decode(d)),
    } as Partial<WebSocketClientConnectionOptions>);
    const gotPong = new Promise<string>((r) => peer.once('pong', (d) => r(d.toString())));
    peer.ping('are you there');
    peer.send('after ping');
    expect(await next(conn)).toEqual({ type: 'text', data: 'after ping' });
    expect(await gotPong).toBe('are you there');
    await conn.ping(new TextEncoder().encode('me?'));
    peer.send('x');
    await next(conn);
    expect(pongs).toEqual(['me?']);
    await conn.close();
  });

  it('client-initiated close: code and reason reach the server, the echo comes back', async () => {
    const { conn, peer } = await open('/plain');
    const serverSaw = new Promise<[number, string]>((r) =>
      peer.once('close', (code, reason) => r([code, reason.toString()])),
    );
    const info = await conn.close(4001, 'bye ✓');
    expect(await serverSaw).toEqual([4001, 'bye ✓']);
    expect(info).toEqual({ code: 4001, reason: 'bye ✓', wasClean: true });
    expect(conn.readyState).toBe('closed');
    await expect(conn.send('late')).rejects.toMatchObject({ code: 'ERR_WS_CLOSED' });
  });

  it('server-initiated close with and without a code', async () => {
    const a = await open('/plain');
    a.peer.close(4002, 'server says bye');
    expect(await a.conn.closed).toEqual({ code: 4002, reason: 'server says bye', wasClean: true });
    const b = await open('/plain');
    b.peer.close();
    expect(await b.conn.closed).toEqual({ code: 1005, reason: '', wasClean: true });
    // The messages stream ends once closed.
    expect((await b.conn.messages.getReader().read()).done).toBe(true);
  });

  it('reports 1006 when the server drops the connection', async () => {
    const { conn, peer } = await open('/plain');
    peer.terminate();
    expect(await conn.closed).toMatchObject({ code: 1006, wasClean: false });
  });

  it('a subprotocol the server does not choose fails the handshake', async () => {
    await expect(open('/plain', { protocols: ['other'] })).rejects.toMatchObject({
      code: 'ERR_WS_HANDSHAKE',
      status: 101,
    });
  });
});

/** A server that completes the handshake itself, then lets the test write raw bytes. */
function rawServer(
  onSocket: (socket: Socket, frames: DecodedEvent[]) => void,
  answer?: (key: string) => string,
) {
  const s = createServer();
  const sockets = new Set<Socket>();
  s.on('upgrade', (req, socket: Socket) => {
    sockets.add(socket);
    const key = String(req.headers['sec-websocket-key']);
    const accept = createHash('sha1')
      .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      answer?.(key) ??
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    const frames: DecodedEvent[] = [];
    const dec = new FrameDecoder({ role: 'server' });
    socket.on('data', (d) => {
      for (const ev of dec.push(d)) {
        frames.push(ev);
        if (ev.type === 'close') socket.end();
      }
    });
    socket.on('error', () => {});
    onSocket(socket, frames);
  });
  return new Promise<{ port: number; close: () => Promise<void> }>((resolve) =>
    s.listen(0, '127.0.0.1', () =>
      resolve({
        port: (s.address() as AddressInfo).port,
        close: () => {
          for (const so of sockets) so.destroy();
          return new Promise((r) => s.close(() => r()));
        },
      }),
    ),
  );
}

describe('protocol errors and handshake checks (raw server)', () => {
  const cases: [string, number, number[], Partial<WebSocketClientConnectionOptions>?][] = [
    ['a reserved opcode', 1002, [0x83, 0x00]],
    ['RSV1 without an extension', 1002, [0xc1, 0x01, 0x61]],
    ['a masked frame from the server', 1002, [0x81, 0x81, 1, 2, 3, 4, 0x60]],
    ['a fragmented ping', 1002, [0x09, 0x00]],
    ['an invalid close code', 1002, [0x88, 0x02, 0x03, 0xee]],
    ['invalid UTF-8 in a text message', 1007, [0x81, 0x02, 0xc3, 0x28]],
    ['a message over the size limit', 1009, [0x82, 0x7e, 0x01, 0x00], { maxMessageSize: 255 }],
  ];
  it.each(cases)('%s closes with %i and reports 1006', async (_n, expected, bytes, opts) => {
    let frames: DecodedEvent[] = [];
    const srv = await rawServer((socket, f) => {
      frames = f;
      socket.write(Uint8Array.from(bytes));
    });
    const http = new HttpConnection(await dialer(srv.port)());
    const { conn } = await connectWebSocket((req) => http.upgrade(req), {
      url: `ws://127.0.0.1:${srv.port}/`,
      ...opts,
    });
    const reading = conn.messages.getReader().read();
    const info = await conn.closed;
    expect(info.code).toBe(1006);
    expect(info.wasClean).toBe(false);
    expect(info.error).toMatchObject({ closeCode: expected });
    expect((await reading).done).toBe(true);
    expect(frames).toEqual([{ type: 'close', code: expected, reason: '' }]);
    await srv.close();
  });

  it('rejects a refusal, a wrong Sec-WebSocket-Accept and extensions not offered', async () => {
    for (const answer of [
      () => 'HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno',
      () =>
        'HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n',
      (key: string) =>
        `HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n`,
    ]) {
      const srv = await rawServer(() => {}, answer);
      const http = new HttpConnection(await dialer(srv.port)());
      await expect(
        connectWebSocket((req) => http.upgrade(req), { url: `ws://127.0.0.1:${srv.port}/` }),
      ).rejects.toMatchObject({ code: 'ERR_WS_HANDSHAKE' });
      await srv.close();
    }
  });

  it('computes the RFC 6455 §1.3 example accept value', async () => {
    expect(await computeAccept('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });
});
