/**
 * Node side of the TLS browser tests and benchmark: a Node TLS 1.3 server that requires a client
 * certificate, reached through a WebSocket bridge exactly like an edge router (binary messages are
 * arbitrary slices of the TLS stream); an HTTP server for the bundled client, a test page, a test
 * service worker, and a certificate-issuing endpoint for keys made (non-extractable) in the browser.
 */
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { build } from 'vite';
import { WebSocketServer } from 'ws';
import { createPki } from '../../shared/tls/_test/pki.ts';
import { BasicConstraintsExtension, X509CertificateGenerator } from '../../shared/x509.ts';
import type { RunParams } from './client-entry.ts';

/** Builds client-entry.ts into one classic script (IIFE, global `tlsTest`). */
export async function buildClientBundle(outDir: string): Promise<string> {
  await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      outDir,
      emptyOutDir: true,
      minify: false,
      lib: {
        entry: join(import.meta.dirname, 'client-entry.ts'),
        name: 'tlsTest',
        formats: ['iife'],
        fileName: () => 'tls-client.js',
      },
    },
  });
  return join(outDir, 'tls-client.js');
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>tls test</title>
<script src="/tls-client.js"></script>
<script>
  // Runs tlsTest[fn](...args) inside the test service worker and returns its result.
  window.inServiceWorker = async (fn, ...args) => {
    const reg = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
    await navigator.serviceWorker.ready;
    const worker = reg.active;
    const channel = new MessageChannel();
    const reply = new Promise((resolve) => { channel.port1.onmessage = (e) => resolve(e.data); });
    worker.postMessage({ fn, args }, [channel.port2]);
    const r = await reply;
    if (!r.ok) throw new Error(r.error);
    return r.result;
  };
</script>`;

const SERVICE_WORKER = `importScripts('/tls-client.js');
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));
self.addEventListener('message', (e) => {
  const port = e.ports[0];
  const work = (async () => {
    try {
      port.postMessage({ ok: true, result: await self.tlsTest[e.data.fn](...e.data.args) });
    } catch (err) {
      port.postMessage({ ok: false, error: String(err && err.stack || err) });
    }
  })();
  e.waitUntil(work);
});`;

/** The TLS server's tiny protocol: first line `echo`, `source <n>` or `sink <n>`. */
function serveTlsSocket(socket: tls.TLSSocket) {
  socket.on('error', () => {});
  let head = Buffer.alloc(0);
  const onHead = (d: Buffer) => {
    head = Buffer.concat([head, d]);
    const nl = head.indexOf(10);
    if (nl < 0) return;
    socket.off('data', onHead);
    const [mode, arg] = head.subarray(0, nl).toString().split(' ');
    const rest = head.subarray(nl + 1);
    const n = Number(arg);
    if (mode === 'echo') {
      if (rest.length) socket.write(rest);
      socket.on('data', (x) => {
        if (!socket.write(x)) {
          socket.pause();
          socket.once('drain', () => socket.resume());
        }
      });
    } else if (mode === 'source') {
      const chunk = Buffer.alloc(65536, 7);
      let sent = 0;
      const pump = () => {
        while (sent < n) {
          const piece = chunk.subarray(0, Math.min(chunk.length, n - sent));
          sent += piece.length;
          if (!socket.write(piece)) return void socket.once('drain', pump);
        }
      };
      pump();
    } else if (mode === 'sink') {
      let got = rest.length;
      const check = () => {
        if (got >= n) socket.write('ok\n');
      };
      socket.on('data', (x: Buffer) => {
        got += x.length;
        check();
      });
      check();
    } else {
      socket.destroy();
    }
  };
  socket.on('data', onHead);
}

/**
 * The transport alone, for comparison: `raw=source:<n>` sends n bytes in 64 KiB messages;
 * `raw=sink:<n>` counts n bytes and answers "ok" (binary: the product's transport refuses text).
 */
function serveRawWebSocket(ws: import('ws').WebSocket, spec: string) {
  const [mode, arg] = spec.split(':');
  const n = Number(arg);
  if (mode === 'source') {
    const chunk = Buffer.alloc(65536, 7);
    let sent = 0;
    const pump = () => {
      while (sent < n) {
        if (ws.bufferedAmount > 1 << 20) return void setTimeout(pump, 1);
        const piece = chunk.subarray(0, Math.min(chunk.length, n - sent));
        sent += piece.length;
        ws.send(piece);
      }
    };
    pump();
  } else {
    let got = 0;
    ws.on('message', (d: Buffer) => {
      got += d.length;
      if (got >= n) ws.send(Buffer.from('ok'));
    });
  }
}

export interface TlsHarness {
  origin: string;
  /** The TLS server itself, for Node clients that connect over TCP. */
  tlsPort: number;
  /** Test PKI: trust anchor and a client identity for Node clients. */
  pki: Awaited<ReturnType<typeof createPki>>;
  params(echoBytes: number): RunParams;
  close(): Promise<void>;
}

export async function startTlsHarness(): Promise<TlsHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'zt-tls-e2e-'));
  const [bundlePath, pki] = await Promise.all([buildClientBundle(dir), createPki()]);
  const bundle = readFileSync(bundlePath);

  const tlsServer = tls.createServer(
    {
      key: pki.serverEc.keyPem!,
      cert: pki.serverEc.chainPem,
      ca: pki.root.pem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      noDelay: true,
    },
    serveTlsSocket,
  );
  tlsServer.listen(0, '127.0.0.1');
  await once(tlsServer, 'listening');
  const tlsPort = (tlsServer.address() as net.AddressInfo).port;

  const httpServer = http.createServer(async (req, res) => {
    if (req.method === 'POST' && req.url === '/issue') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const spki = new Uint8Array(Buffer.concat(chunks));
      const cert = await X509CertificateGenerator.create({
        subject: 'CN=browser client',
        issuer: pki.root.cert.subject,
        publicKey: spki,
        signingKey: pki.root.keys.privateKey,
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 3_600_000),
        extensions: [new BasicConstraintsExtension(false, undefined, true)],
      });
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.from(cert.rawData));
      return;
    }
    const routes: Record<string, [string, string | Buffer]> = {
      '/': ['text/html', PAGE],
      '/tls-client.js': ['text/javascript', bundle],
      '/sw.js': ['text/javascript', SERVICE_WORKER],
    };
    const route = routes[req.url ?? ''];
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': route[0], 'cache-control': 'no-store' });
    res.end(route[1]);
  });

  const sockets = new Set<net.Socket>();
  httpServer.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ server: httpServer, path: '/ws' });
  wss.on('connection', (ws, req) => {
    const raw = new URL(req.url ?? '/', 'http://x').searchParams.get('raw');
    if (raw) return serveRawWebSocket(ws, raw);
    const upstream = net.connect(tlsPort, '127.0.0.1');
    upstream.setNoDelay(true);
    ws.on('message', (data) => upstream.write(data as Buffer));
    upstream.on('data', (d) => {
      ws.send(d);
      // Like a router's bounded buffers: stop reading TLS while the WebSocket is backed up.
      if (ws.bufferedAmount > 1 << 20) {
        upstream.pause();
        const wait = () => (ws.bufferedAmount > 1 << 18 ? setTimeout(wait, 1) : upstream.resume());
        setTimeout(wait, 1);
      }
    });
    ws.on('close', () => upstream.end());
    upstream.on('close', () => ws.close());
    upstream.on('error', () => ws.terminate());
    ws.on('error', () => upstream.destroy());
  });
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  const port = (httpServer.address() as net.AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;

  return {
    origin,
    tlsPort,
    pki,
    params: (echoBytes) => ({
      wsUrl: `ws://127.0.0.1:${port}/ws`,
      issueUrl: `${origin}/issue`,
      rootDer: Array.from(pki.root.der),
      echoBytes,
    }),
    async close() {
      for (const c of wss.clients) c.terminate();
      for (const s of sockets) s.destroy();
      wss.close();
      await new Promise<void>((r) => httpServer.close(() => r()));
      await new Promise<void>((r) => tlsServer.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
