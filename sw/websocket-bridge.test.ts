import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { dialer } from '../shared/http/_test/node-duplex.ts';
import { HttpConnection } from '../shared/http/connection.ts';
import type { PageToSw, SwToPage } from '../shared/page-worker/websocket-port.ts';
import { connectWebSocket } from '../shared/websocket/connect.ts';
import { bridgeWebSocket, type OpenWebSocket, pageAliveOf } from './websocket-bridge.ts';

let server: Server;
let wss: WebSocketServer;
let port: number;
const peers: WsSocket[] = [];

beforeAll(async () => {
  server = createServer();
  wss = new WebSocketServer({ server, handleProtocols: (p) => (p.has('v1') ? 'v1' : false) });
  wss.on('connection', (ws, req) => {
    peers.push(ws);
    if (req.url === '/echo') ws.on('message', (d, bin) => ws.send(d, { binary: bin }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  wss.close();
  await new Promise((r) => server.close(r));
});

const open: OpenWebSocket = async (url, protocols) => {
  const http = new HttpConnection(await dialer(port)());
  const u = new URL(url);
  return connectWebSocket((req) => http.upgrade(req), {
    url: `ws://127.0.0.1:${port}${u.pathname}`,
    protocols,
  });
};

/** The page's end of the port, recording what the SW sends. */
function page(
  openFn: OpenWebSocket = open,
  timeoutMs?: number,
  pageAlive?: () => Promise<boolean>,
) {
  const ch = new MessageChannel();
  const received: SwToPage[] = [];
  const waiters: (() => void)[] = [];
  ch.port1.onmessage = (e) => {
    received.push(e.data as SwToPage);
    for (const w of waiters.splice(0)) w();
  };
  const served = bridgeWebSocket(ch.port2, openFn, {
    ...(timeoutMs ? { heartbeatTimeoutMs: timeoutMs } : {}),
    ...(pageAlive ? { pageAlive } : {}),
  });
  const send = (m: PageToSw, transfer: Transferable[] = []) => ch.port1.postMessage(m, transfer);
  const until = async (pred: (r: SwToPage[]) => boolean, ms = 5000) => {
    const end = Date.now() + ms;
    while (!pred(received)) {
      if (Date.now() > end)
        throw new Error(`timed out; got ${JSON.stringify(received.map((m) => m.t))}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 20);
      });
    }
  };
  const of = <T extends SwToPage['t']>(t: T) =>
    received.filter((m): m is Extract<SwToPage, { t: T }> => m.t === t);
  // Served, and the final `close` delivered to the page.
  const done = served.then(() => until((r) => r.some((m) => m.t === 'close')));
  return { send, received, until, of, done, served, close: () => ch.port1.close() };
}

const served = (p: ReturnType<typeof page>) => p.served;

describe('bridgeWebSocket', () => {
  it('opens, relays text and binary both ways, and acks sent bytes', async () => {
    const p = page();
    p.send({ t: 'open', url: 'wss://app.test/echo', protocols: ['v1'], credit: 1 << 20 });
    await p.until((r) => r.some((m) => m.t === 'open'));
    expect(p.of('open')[0]).toEqual({ t: 'open', protocol: 'v1', extensions: '' });
    p.send({ t: 'send', data: 'hi ✓', bytes: 6 });
    const buf = new Uint8Array([1, 2, 3, 4]).buffer;
    p.send({ t: 'send', data: buf, bytes: 4 }, [buf]);
    await p.until((r) => r.filter((m) => m.t === 'message').length === 2);
    expect(p.of('message').map((m) => m.data)).toEqual([
      'hi ✓',
      new Uint8Array([1, 2, 3, 4]).buffer,
    ]);
    expect(p.of('sent').map((m) => m.bytes)).toEqual([6, 4]);
    p.send({ t: 'close', code: 4000, reason: 'done' });
    await p.done;
    expect(p.of('close')).toEqual([{ t: 'close', code: 4000, reason: 'done', wasClean: true }]);
  });

  it('stops reading from the tunnel when the page is out of credit', async () => {
    const p = page();
    p.send({ t: 'open', url: 'ws://app.test/push', protocols: [], credit: 25_000 });
    await p.until((r) => r.some((m) => m.t === 'open'));
    const peer = peers[peers.length - 1] as WsSocket;
    const chunk = Buffer.alloc(10_000, 1);
    for (let i = 0; i < 50; i++) peer.send(chunk);
    await p.until((r) => r.filter((m) => m.t === 'message').length >= 3);
    await new Promise((r) => setTimeout(r, 200));
    // 25,000 bytes of credit: the third message overdraws it, and the SW reads no further.
    expect(p.of('message')).toHaveLength(3);
    p.send({ t: 'credit', bytes: 20_000 });
    await p.until((r) => r.filter((m) => m.t === 'message').length >= 5);
    await new Promise((r) => setTimeout(r, 100));
    expect(p.of('message')).toHaveLength(5);
    p.send({ t: 'credit', bytes: 1 << 20 });
    await p.until((r) => r.filter((m) => m.t === 'message').length === 50);
    peer.close(4100, 'server bye');
    await p.done;
    expect(p.of('close')).toEqual([
      { t: 'close', code: 4100, reason: 'server bye', wasClean: true },
    ]);
  });

  it('delivers messages received before a server close, then the close', async () => {
    const p = page();
    p.send({ t: 'open', url: 'ws://app.test/x', protocols: [], credit: 1 });
    await p.until((r) => r.some((m) => m.t === 'open'));
    const peer = peers[peers.length - 1] as WsSocket;
    peer.send('a');
    peer.send('b');
    peer.close(1000);
    await p.until((r) => r.some((m) => m.t === 'message'));
    p.send({ t: 'credit', bytes: 10 });
    await p.done;
    expect(p.received.filter((m) => m.t !== 'hb').map((m) => m.t)).toEqual([
      'open',
      'message',
      'message',
      'close',
    ]);
  });

  it('reports a failed open as close 1006 with the reason', async () => {
    const p = page(() => Promise.reject(new Error('no route to service')));
    p.send({ t: 'open', url: 'ws://app.test/', protocols: [], credit: 1 });
    await p.done;
    expect(p.of('close')).toEqual([
      { t: 'close', code: 1006, reason: '', wasClean: false, error: 'no route to service' },
    ]);
  });

  it('answers heartbeats, and closes the tunnel (1001) when the page falls silent', async () => {
    const p = page(open, 300);
    p.send({ t: 'open', url: 'ws://app.test/x', protocols: [], credit: 1 });
    await p.until((r) => r.some((m) => m.t === 'open'));
    const peer = peers[peers.length - 1] as WsSocket;
    const serverSaw = new Promise<number>((r) => peer.once('close', (code) => r(code)));
    p.send({ t: 'hb' });
    await p.until((r) => r.some((m) => m.t === 'hb'));
    expect(await serverSaw).toBe(1001);
    await served(p);
  });

  it('keeps the socket of a silent page the browser still has, and closes it once the page is gone', async () => {
    let alive = true;
    let asked = 0;
    const p = page(open, 100, async () => {
      asked++;
      return alive;
    });
    p.send({ t: 'open', url: 'ws://app.test/x', protocols: [], credit: 1 << 20 });
    await p.until((r) => r.some((m) => m.t === 'open'));
    const peer = peers[peers.length - 1] as WsSocket;
    const serverSaw = new Promise<number>((r) => peer.once('close', (code) => r(code)));
    // Silent for several timeouts (a long task, a throttled background tab): still open.
    await new Promise((r) => setTimeout(r, 450));
    expect(asked).toBeGreaterThanOrEqual(2);
    peer.send('still there');
    await p.until((r) => r.some((m) => m.t === 'message'));
    alive = false;
    expect(await serverSaw).toBe(1001);
    await served(p);
  });

  it('closes the tunnel when the browser cannot say whether the page exists', async () => {
    const p = page(open, 100, () => Promise.reject(new Error('no clients API')));
    p.send({ t: 'open', url: 'ws://app.test/x', protocols: [], credit: 1 });
    await p.until((r) => r.some((m) => m.t === 'open'));
    const peer = peers[peers.length - 1] as WsSocket;
    expect(await new Promise<number>((r) => peer.once('close', (code) => r(code)))).toBe(1001);
    await served(p);
  });

  it('drops a socket the page closed while it was still connecting', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let terminated = false;
    const p = page(async (url, protocols) => {
      await gate;
      const o = await open(url, protocols);
      const orig = o.conn.terminate.bind(o.conn);
      o.conn.terminate = () => {
        terminated = true;
        orig();
      };
      return o;
    });
    p.send({ t: 'open', url: 'ws://app.test/x', protocols: [], credit: 1 });
    p.send({ t: 'close' });
    await new Promise((r) => setTimeout(r, 20));
    release();
    await served(p);
    expect(terminated).toBe(true);
    expect(p.of('open')).toHaveLength(0);
  });
});

describe('pageAliveOf', () => {
  it('asks the browser for the client that posted the connect message', async () => {
    const clients = { get: async (id: string) => (id === 'tab-1' ? { id } : undefined) };
    expect(await pageAliveOf(clients, { id: 'tab-1' })?.()).toBe(true);
    expect(await pageAliveOf(clients, { id: 'tab-2' })?.()).toBe(false);
    expect(pageAliveOf(clients, null)).toBeUndefined();
    expect(pageAliveOf(clients, {})).toBeUndefined();
  });
});
