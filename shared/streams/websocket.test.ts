/** webSocketDuplex over the `ws` package (API-compatible with the browser WebSocket) in Node. */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { WebSocketDuplexError, WebSocketOverflowError, webSocketDuplex } from './websocket.ts';

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    for (const c of s.clients) c.terminate();
    await new Promise((r) => s.close(r));
  }
});

async function server(onConnection: (ws: WebSocket) => void): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(wss);
  wss.on('connection', onConnection);
  await new Promise((r) => wss.once('listening', r));
  return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`;
}

const browserLike = (ws: WebSocket) => ws as unknown as globalThis.WebSocket;

describe('webSocketDuplex', () => {
  it('carries bytes both ways and closes the socket when the writable closes', async () => {
    let serverClosed: Promise<number> | undefined;
    const url = await server((ws) => {
      serverClosed = new Promise((r) => ws.on('close', (code) => r(code)));
      ws.on('message', (data: Buffer) => ws.send(Buffer.concat([Buffer.from('echo:'), data])));
    });
    const duplex = await webSocketDuplex(browserLike(new WebSocket(url)));
    const w = duplex.writable.getWriter();
    const r = duplex.readable.getReader();
    await w.write(new TextEncoder().encode('abc'));
    expect(new TextDecoder().decode((await r.read()).value)).toBe('echo:abc');
    await w.write(new Uint8Array(100_000).fill(1).subarray(10, 20)); // a view: only its bytes go
    expect((await r.read()).value).toHaveLength(15);
    await w.close();
    expect(await serverClosed).toBe(1000);
    expect((await r.read()).done).toBe(true);
  });

  it("says its writes are copied only when told (a browser's send copies; `ws` may read later)", async () => {
    const url = await server(() => {});
    const plain = await webSocketDuplex(browserLike(new WebSocket(url)));
    expect(plain.writesCopied).toBeUndefined();
    const told = await webSocketDuplex(browserLike(new WebSocket(url)), { sendCopies: true });
    expect(told.writesCopied).toBe(true);
  });

  it('errors the readable and closes with 1003 on a text message', async () => {
    const url = await server((ws) => ws.send('not binary'));
    const ws = new WebSocket(url);
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    const duplex = await webSocketDuplex(browserLike(ws));
    const err = await duplex.readable
      .getReader()
      .read()
      .catch((e) => e);
    expect(err).toBeInstanceOf(WebSocketDuplexError);
    expect(err.code).toBe('ERR_WS_TEXT');
    expect(await closed).toBe(1003);
  });

  it('carries a ziti channel and an edge connection, both ends on WebSockets', async () => {
    const { acceptChannel, acceptConnect, ContentType, dialService, openChannel } = await import(
      '../ziti/index.ts'
    );
    const url = await server((ws) => {
      void (async () => {
        const router = await acceptChannel(await webSocketDuplex(browserLike(ws)));
        router.handle(ContentType.Connect, (msg) => {
          void acceptConnect(router, msg).then((c) =>
            c.readable.pipeTo(c.writable).catch(() => {}),
          );
        });
      })();
    });
    const channel = await openChannel(await webSocketDuplex(browserLike(new WebSocket(url))), {
      sessionToken: 'api-session',
      latencyIntervalMs: 0,
    });
    const conn = await dialService(channel, { sessionToken: 'dial', encryptionRequired: true });
    const w = conn.writable.getWriter();
    const r = conn.readable.getReader();
    const block = new Uint8Array(300_000).map((_, i) => i & 0xff);
    await w.write(block);
    let got = 0;
    while (got < block.length) got += (await r.read()).value!.length;
    expect(got).toBe(block.length);
    await channel.close();
  });

  it('rejects when the socket cannot open', async () => {
    const url = await server(() => {});
    const port = new URL(url).port;
    await new Promise((r) => servers.pop()!.close(r));
    const err = await webSocketDuplex(browserLike(new WebSocket(`ws://127.0.0.1:${port}/`))).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(WebSocketDuplexError);
    expect(err.code).toBe('ERR_WS_OPEN');
  });

  it('closes with 1009 and errors the readable when the reader falls too far behind', async () => {
    const url = await server((ws) => {
      for (let i = 0; i < 40; i++) ws.send(new Uint8Array(64 * 1024));
    });
    const ws = new WebSocket(url);
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    const duplex = await webSocketDuplex(browserLike(ws), { maxQueuedBytes: 1024 * 1024 });
    expect(await closed).toBe(1009);
    const reader = duplex.readable.getReader();
    await expect(reader.read()).rejects.toBeInstanceOf(WebSocketOverflowError);
  });

  it('resolves writes only while bufferedAmount is under the high-water mark', async () => {
    let serverSocket: WebSocket | undefined;
    let received = 0;
    const url = await server((ws) => {
      serverSocket = ws;
      // Stop reading TCP on the server side, so the client's buffer fills.
      (ws as unknown as { _socket: { pause(): void } })._socket.pause();
      ws.on('message', (d: Buffer) => {
        received += d.length;
      });
    });
    const ws = new WebSocket(url);
    const hwm = 256 * 1024;
    const duplex = await webSocketDuplex(browserLike(ws), {
      writeHighWaterMark: hwm,
      drainPollMs: 2,
    });
    const w = duplex.writable.getWriter();
    const total = 64 * 1024 * 1024;
    const chunk = new Uint8Array(256 * 1024);
    let accepted = 0;
    const writing = (async () => {
      for (let sent = 0; sent < total; sent += chunk.length) {
        await w.write(chunk);
        expect(ws.bufferedAmount).toBeLessThanOrEqual(hwm);
        accepted += chunk.length;
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    expect(accepted).toBeLessThan(total / 2); // the kernel buffers some, then writes wait
    (serverSocket as unknown as { _socket: { resume(): void } })._socket.resume();
    await writing;
    await w.close();
    for (let i = 0; i < 500 && received < total; i++) await new Promise((r) => setTimeout(r, 10));
    expect(received).toBe(total);
  }, 30_000);
});
