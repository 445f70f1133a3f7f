/**
 * The page shim's WebSocket (bootstrap/shim/websocket.ts) and the worker's bridge together in Node:
 * the shim's WebSocket driven through the real SW bridge and RFC 6455 client to a `ws`
 * echo server. A window-like object supplies what Node lacks (CloseEvent, a native WebSocket
 * stand-in). The same behaviour is compared with the browsers' own WebSocket in e2e/websocket.spec.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { installWebSocket } from '../bootstrap/shim/websocket.ts';
import { dialer } from '../shared/http/_test/node-duplex.ts';
import { HttpConnection } from '../shared/http/connection.ts';
import { connectWebSocket } from '../shared/websocket/connect.ts';
import { bridgeWebSocket } from './websocket-bridge.ts';

class FakeCloseEvent extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  constructor(type: string, init: { code?: number; reason?: string; wasClean?: boolean } = {}) {
    super(type);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? '';
    this.wasClean = init.wasClean ?? false;
  }
}
class NativeStandIn extends EventTarget {
  static readonly CONNECTING = 0;
  readonly args: unknown[];
  constructor(...args: unknown[]) {
    super();
    this.args = args;
  }
}
for (const [i, n] of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'].entries()) {
  Object.defineProperty(NativeStandIn.prototype, n, { value: i, enumerable: true });
}
Object.defineProperty(NativeStandIn.prototype, Symbol.toStringTag, { value: 'WebSocket' });

let server: Server;
let port: number;
let wss: WebSocketServer;
const serverClosed = new Map<string, [number, string]>();

beforeAll(async () => {
  server = createServer();
  wss = new WebSocketServer({ server, handleProtocols: (p) => (p.has('b') ? 'b' : false) });
  wss.on('connection', (ws, req) => {
    const url = new URL(req.url ?? '/', 'http://x');
    ws.on('close', (code, reason) => serverClosed.set(url.search, [code, reason.toString()]));
    if (url.pathname === '/echo') ws.on('message', (d, bin) => ws.send(d, { binary: bin }));
    if (url.pathname === '/bye') ws.close(4321, 'server bye');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  wss.close();
  await new Promise((r) => server.close(r));
});

function setup(
  opts: {
    connect?: () => MessagePort | Promise<MessagePort>;
    hb?: number;
    pageAlive?: () => Promise<boolean>;
  } = {},
) {
  const win = new EventTarget() as unknown as Window & typeof globalThis & { keepAlives: number };
  Object.assign(win, {
    WebSocket: NativeStandIn,
    DOMException,
    Event,
    MessageEvent,
    CloseEvent: FakeCloseEvent,
    Blob,
    document: { baseURI: 'https://app.test/chat/index.html' },
    keepAlives: 0,
  });
  const WS = installWebSocket(win, {
    shouldTunnel: (u) => u.hostname === 'app.test',
    connect:
      opts.connect ??
      (() => {
        const ch = new MessageChannel();
        void bridgeWebSocket(
          ch.port2,
          async (url, protocols) => {
            const http = new HttpConnection(await dialer(port)());
            return connectWebSocket((req) => http.upgrade(req), {
              url: `ws://127.0.0.1:${port}${new URL(url).pathname}${new URL(url).search}`,
              protocols,
            });
          },
          {
            ...(opts.hb ? { heartbeatTimeoutMs: opts.hb } : {}),
            ...(opts.pageAlive ? { pageAlive: opts.pageAlive } : {}),
          },
        );
        return ch.port1;
      }),
    keepAlive: () => {
      win.keepAlives++;
    },
    ...(opts.hb ? { heartbeatIntervalMs: opts.hb / 4, heartbeatTimeoutMs: opts.hb } : {}),
  });
  return { WS, win };
}

const once = <T extends Event>(t: EventTarget, type: string) =>
  new Promise<T>((r) => t.addEventListener(type, (e) => r(e as T), { once: true }));

describe('installWebSocket', () => {
  it('validates URLs and protocols as the standard says', () => {
    const { WS } = setup();
    const syntax = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof DOMException && e.name === 'SyntaxError';
      }
      return false;
    };
    expect(syntax(() => new WS('ftp://app.test/'))).toBe(true);
    expect(syntax(() => new WS('ws://app.test/#frag'))).toBe(true);
    expect(syntax(() => new WS('ws://app.test/#'))).toBe(true);
    expect(syntax(() => new WS('http://[::1'))).toBe(true);
    expect(syntax(() => new WS('ws://app.test/', ['a', 'a']))).toBe(true);
    expect(syntax(() => new WS('ws://app.test/', 'a b'))).toBe(true);
    expect(syntax(() => new WS('ws://app.test/', ''))).toBe(true);
    expect(() => new (WS as unknown as new () => WebSocket)()).toThrow(TypeError);
  });

  it('resolves relative and http(s) URLs, and hands other hosts to the native WebSocket', () => {
    const { WS } = setup();
    const a = new WS('/socket?x=1');
    expect(a.url).toBe('wss://app.test/socket?x=1');
    a.close();
    const b = new WS('http://app.test:8080/x');
    expect(b.url).toBe('ws://app.test:8080/x');
    b.close();
    const n = new WS('wss://elsewhere.test/', ['p']) as unknown as NativeStandIn;
    expect(n).toBeInstanceOf(NativeStandIn);
    expect(n.args).toEqual(['wss://elsewhere.test/', ['p']]);
    expect(n instanceof WS).toBe(true);
    expect(a instanceof WS && a instanceof NativeStandIn).toBe(true);
    expect(Object.prototype.toString.call(a)).toBe('[object WebSocket]');
    expect([WS.CONNECTING, WS.OPEN, WS.CLOSING, WS.CLOSED]).toEqual([0, 1, 2, 3]);
    expect([a.CONNECTING, a.OPEN, a.CLOSING, a.CLOSED]).toEqual([0, 1, 2, 3]);
    expect(WS.name).toBe('WebSocket');
  });

  it('opens, echoes text, ArrayBuffer, views and Blobs, with honest bufferedAmount', async () => {
    const { WS, win } = setup();
    const ws = new WS('wss://app.test/echo?id=main', ['a', 'b']);
    expect(ws.readyState).toBe(0);
    expect(() => ws.send('x')).toThrow(expect.objectContaining({ name: 'InvalidStateError' }));
    const opened: string[] = [];
    ws.onopen = () => opened.push('on');
    ws.addEventListener('open', () => opened.push('listener'));
    await once(ws, 'open');
    expect(opened).toEqual(['on', 'listener']);
    expect(ws.readyState).toBe(1);
    expect(ws.protocol).toBe('b');
    expect(win.keepAlives).toBeGreaterThan(0);
    ws.binaryType = 'arraybuffer';
    ws.binaryType = 'nonsense' as BinaryType;
    expect(ws.binaryType).toBe('arraybuffer');
    const got: unknown[] = [];
    ws.onmessage = (e) => got.push(e.data);
    ws.send('héllo');
    expect(ws.bufferedAmount).toBe(6);
    ws.send(new Uint8Array([1, 2, 3]).buffer);
    ws.send(new Uint16Array([0x0102, 0x0304]).subarray(1));
    ws.send(new Blob(['blob!']));
    expect(ws.bufferedAmount).toBe(6 + 3 + 2 + 5);
    while (got.length < 4) await once(ws, 'message');
    expect(got[0]).toBe('héllo');
    expect(new Uint8Array(got[1] as ArrayBuffer)).toEqual(new Uint8Array([1, 2, 3]));
    expect((got[2] as ArrayBuffer).byteLength).toBe(2);
    expect(new TextDecoder().decode(got[3] as ArrayBuffer)).toBe('blob!');
    expect(ws.bufferedAmount).toBe(0);
    ws.binaryType = 'blob';
    ws.send(new Uint8Array([9]));
    const m = await once<MessageEvent>(ws, 'message');
    expect(m).toBeInstanceOf(MessageEvent);
    expect(m.origin).toBe('wss://app.test');
    expect(m.data).toBeInstanceOf(Blob);
    expect(new Uint8Array(await (m.data as Blob).arrayBuffer())).toEqual(new Uint8Array([9]));
    const closing = once<FakeCloseEvent>(ws, 'close');
    ws.close(4000, 'bye');
    expect(ws.readyState).toBe(2);
    ws.send('ignored');
    expect(ws.bufferedAmount).toBe(7);
    const c = await closing;
    expect([c.code, c.reason, c.wasClean]).toEqual([4000, 'bye', true]);
    expect(ws.readyState).toBe(3);
    await new Promise((r) => setTimeout(r, 50));
    expect(serverClosed.get('?id=main')).toEqual([4000, 'bye']);
  });

  it('checks close() arguments', async () => {
    const { WS } = setup();
    const ws = new WS('wss://app.test/echo');
    await once(ws, 'open');
    for (const code of [0, 999, 1001, 2999, 5000, 65536]) {
      expect(() => ws.close(code)).toThrow(expect.objectContaining({ name: 'InvalidAccessError' }));
    }
    expect(() => ws.close(1000, 'é'.repeat(62))).toThrow(
      expect.objectContaining({ name: 'SyntaxError' }),
    );
    expect(ws.readyState).toBe(1);
    const closing = once<FakeCloseEvent>(ws, 'close');
    ws.close();
    expect((await closing).code).toBe(1005);
  });

  it('reports a server close, and a failed handshake as error then close 1006', async () => {
    const { WS } = setup();
    const a = new WS('wss://app.test/bye');
    const c = await once<FakeCloseEvent>(a, 'close');
    expect([c.code, c.reason, c.wasClean]).toEqual([4321, 'server bye', true]);
    const b = new WS('wss://app.test/echo', ['zzz']);
    const events: string[] = [];
    b.onerror = () => events.push('error');
    b.onclose = (e) => events.push(`close ${e.code} ${e.wasClean}`);
    await once(b, 'close');
    expect(events).toEqual(['error', 'close 1006 false']);
  });

  it('close() while connecting fails the socket (error, close 1006)', async () => {
    const { WS } = setup();
    const ws = new WS('wss://app.test/echo');
    const events: string[] = [];
    ws.onerror = () => events.push('error');
    ws.onclose = (e) => events.push(`close ${e.code}`);
    ws.onopen = () => events.push('open');
    ws.close();
    expect(ws.readyState).toBe(2);
    await once(ws, 'close');
    await new Promise((r) => setTimeout(r, 100));
    expect(events).toEqual(['error', 'close 1006']);
  });

  it('closes with 1006 when the service worker stops answering', async () => {
    let swEnd: MessagePort | undefined;
    const { WS } = setup({
      hb: 200,
      connect: () => {
        const ch = new MessageChannel();
        swEnd = ch.port2;
        // A SW that opens the socket and then dies (answers nothing more).
        ch.port2.onmessage = (e) => {
          if ((e.data as { t: string }).t === 'open') {
            ch.port2.postMessage({ t: 'open', protocol: '', extensions: '' });
            ch.port2.onmessage = null;
          }
        };
        return ch.port1;
      },
    });
    const ws = new WS('wss://app.test/echo');
    await once(ws, 'open');
    const t0 = Date.now();
    const c = await once<FakeCloseEvent>(ws, 'close');
    expect([c.code, c.wasClean]).toEqual([1006, false]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    swEnd?.close();
  });

  it('a long task longer than the heartbeat timeout does not close the socket', async () => {
    const { WS } = setup({ hb: 200, pageAlive: async () => true });
    const ws = new WS('wss://app.test/echo');
    await once(ws, 'open');
    let closed = '';
    ws.addEventListener('close', (e) => {
      closed = String((e as FakeCloseEvent).code);
    });
    // Neither end handles a message for 600 ms; the first timer turn after it may run before
    // the heartbeat answers that queued meanwhile.
    const end = Date.now() + 600;
    while (Date.now() < end);
    await new Promise((r) => setTimeout(r, 300));
    expect(closed).toBe('');
    const echoed = once<MessageEvent>(ws, 'message');
    ws.send('after the long task');
    expect((await echoed).data).toBe('after the long task');
    ws.close();
  });

  it('delivers 10,000 messages in order', async () => {
    const { WS } = setup();
    const ws = new WS('wss://app.test/echo');
    await once(ws, 'open');
    const got: string[] = [];
    const all = new Promise<void>((r) => {
      ws.onmessage = (e) => {
        got.push(e.data as string);
        if (got.length === 10_000) r();
      };
    });
    for (let i = 0; i < 10_000; i++) ws.send(String(i));
    await all;
    expect(got.every((v, i) => v === String(i))).toBe(true);
    ws.close();
  });
});
