/** Node-side test plumbing: sockets as ByteDuplex, and a Node (OpenSSL) TLS 1.3 server. */
import { once } from 'node:events';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { ByteDuplex } from '../../streams/duplex.ts';

export const socketDuplex = (socket: net.Socket): ByteDuplex => {
  const web = Duplex.toWeb(socket);
  return {
    readable: web.readable as unknown as ReadableStream<Uint8Array>,
    writable: web.writable as unknown as WritableStream<Uint8Array>,
  };
};

export async function connectNode(port: number): Promise<ByteDuplex> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.setNoDelay(true);
  return socketDuplex(socket);
}

export interface Listening {
  port: number;
  close(): Promise<void>;
}

export async function listen(server: net.Server): Promise<Listening> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface NodeTlsServerOptions {
  key: string;
  cert: string;
  /** PEM CA for client certificates; when given the server requires and verifies one. */
  clientCa?: string;
  ciphersuites?: string;
  ecdhCurve?: string;
  onSecureConnection?: (socket: tls.TLSSocket) => void;
}

/** A TLS 1.3-only Node server; by default echoes what it receives. */
export async function startNodeTlsServer(
  options: NodeTlsServerOptions,
): Promise<Listening & { errors: Error[] }> {
  const errors: Error[] = [];
  const server = tls.createServer(
    {
      key: options.key,
      cert: options.cert,
      minVersion: 'TLSv1.3',
      noDelay: true,
      ...(options.clientCa
        ? { ca: options.clientCa, requestCert: true, rejectUnauthorized: true }
        : {}),
      ...(options.ciphersuites ? { ciphers: options.ciphersuites } : {}),
      ...(options.ecdhCurve ? { ecdhCurve: options.ecdhCurve } : {}),
    },
    (socket) => {
      socket.on('error', (e) => errors.push(e));
      if (options.onSecureConnection) options.onSecureConnection(socket);
      else socket.pipe(socket);
    },
  );
  server.on('tlsClientError', (e) => errors.push(e));
  return { ...(await listen(server)), errors };
}

/** Reads a web stream to the end, returning total bytes and an incremental digest. */
export async function drain(
  readable: ReadableStream<Uint8Array>,
  onChunk?: (c: Uint8Array) => void,
): Promise<number> {
  let n = 0;
  const reader = readable.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return n;
    n += value.length;
    onChunk?.(value);
  }
}
