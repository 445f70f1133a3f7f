/**
 * Fixture for the WebSocket e2e tests: builds the page shim and the test service
 * worker with Vite into a temp dir, and serves on 127.0.0.1:0
 *   /setup.html      registers /sw.js (scope /) and waits until it controls the page
 *   /app.html        a page with the shim as the first element of <head>
 *   /cookie.html     the same; the test SW serves its shim with a cookie snapshot
 *   /sw.js, /__zt/shim.js
 *   ws /echo         `ws` echo server (subprotocol: the first offered); /bye closes 4321 at once;
 *                    /refuse answers 403; /push?n=&size= sends n binary messages
 *   ws /tcp          raw-TCP relay to this same server: binary messages are byte slices
 * Tunnelled sockets (host 127.0.0.1) reach /echo via the SW, the bridge, our RFC 6455 client and the
 * relay; the browser's own WebSocket reaches the same server as `localhost` (not tunnelled).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { WebSocketServer } from 'ws';

const root = resolve(import.meta.dirname, '../..');

async function bundle(entry: string, outDir: string, fileName: string): Promise<string> {
  await build({
    configFile: false,
    logLevel: 'silent',
    publicDir: false,
    define: { 'process.env.NODE_ENV': JSON.stringify('production') },
    build: {
      outDir,
      emptyOutDir: false,
      minify: false,
      target: 'es2022',
      lib: { entry: resolve(root, entry), formats: ['iife'], name: 'zt', fileName: () => fileName },
    },
  });
  return readFile(join(outDir, fileName), 'utf8');
}

const SETUP_HTML = `<!doctype html><html><head><meta charset="utf-8"></head><body><script>
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).then(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
    }
    document.documentElement.dataset.ready = '1';
  });
</script></body></html>`;

const APP_HTML = `<!doctype html><html><head><script src="/__zt/shim.js"></script><meta charset="utf-8"></head>
<body><p>app</p></body></html>`;

export interface WebSocketFixture {
  /** http://127.0.0.1:port */
  origin: string;
  port: number;
  close(): Promise<void>;
}

export async function startWebSocketFixture(): Promise<WebSocketFixture> {
  const out = await mkdtemp(join(tmpdir(), 'zt-ws-e2e-'));
  const [shim, sw] = await Promise.all([
    bundle('bootstrap/shim.ts', out, 'shim.js'),
    bundle('e2e/websocket/test-sw.ts', out, 'sw.js'),
  ]);
  const files: Record<string, [string, string]> = {
    '/setup.html': ['text/html', SETUP_HTML],
    '/app.html': ['text/html', APP_HTML],
    '/cookie.html': ['text/html', APP_HTML],
    '/sw.js': ['text/javascript', sw],
    '/__zt/shim.js': ['text/javascript', shim],
  };
  const server = createServer((req, res) => {
    const f = files[new URL(req.url ?? '/', 'http://x').pathname];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': f[0], 'cache-control': 'no-store' }).end(f[1]);
  });
  const echo = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024 * 1024,
    handleProtocols: (protocols) => protocols.values().next().value ?? false,
  });
  echo.on('connection', (ws, req: IncomingMessage) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/bye') ws.close(4321, 'server bye');
    else if (url.pathname === '/push') {
      const n = Number(url.searchParams.get('n') ?? 1);
      const size = Number(url.searchParams.get('size') ?? 1);
      for (let i = 0; i < n; i++) ws.send(Buffer.alloc(size, i & 0xff));
    } else ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  const relay = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  const sockets = new Set<Socket>();
  relay.on('connection', (ws) => {
    const tcp = connect(port, '127.0.0.1');
    sockets.add(tcp);
    tcp.on('data', (d) => ws.send(d));
    tcp.on('close', () => {
      sockets.delete(tcp);
      ws.close();
    });
    tcp.on('error', () => ws.terminate());
    // A WebSocket cannot be paused; the TCP side pushes back through ws's buffer instead.
    tcp.on('drain', () => ws.resume?.());
    ws.on('message', (d: Buffer) => {
      if (!tcp.write(d)) ws.pause?.();
    });
    ws.on('close', () => tcp.end());
  });
  server.on('upgrade', (req, socket: Socket, head) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/refuse') {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const target = path === '/tcp' ? relay : echo;
    target.handleUpgrade(req, socket, head, (ws) => target.emit('connection', ws, req));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    async close() {
      for (const s of sockets) s.destroy();
      for (const c of [...echo.clients, ...relay.clients]) c.terminate();
      echo.close();
      relay.close();
      await new Promise((r) => server.close(r));
      await rm(out, { recursive: true, force: true });
    },
  };
}
