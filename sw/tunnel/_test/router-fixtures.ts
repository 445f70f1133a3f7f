/**
 * A network's PKI, a worker identity of it, and a router's `ws` listener in front of a Node TLS
 * server: what the router-channel tests connect the worker's way to.
 */
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { WebSocketServer } from 'ws';
import { type FabricPki, issueLeafCert, loadOrCreatePki } from '../../../fabric/pki.ts';
import { webSocketStream } from '../../../fabric/router/ws-stream.ts';
import { createSessionKey } from '../../../shared/identity/session-key.ts';
import type { StoredIdentity } from '../../../shared/identity/store.ts';
import type { EdgeRouterInfo } from '../../../shared/ziti/index.ts';

export const pemsOf = (bundle: string) =>
  bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];

export function testPki(name: string, routerHosts = ['127.0.0.1']): Promise<FabricPki> {
  return loadOrCreatePki(mkdtempSync(join(tmpdir(), `zt-${name}-`)), {
    trustDomain: 'zt-test',
    routerHosts,
  });
}

/** The worker's identity: a non-extractable key, its API-session certificate, the CA bundle. */
export async function workerIdentity(
  pki: FabricPki,
  apiSession: StoredIdentity['apiSession'],
): Promise<StoredIdentity> {
  const keyPair = await createSessionKey();
  const cert = await issueLeafCert(pki, {
    publicKey: keyPair.publicKey,
    subject: 'CN=browser',
    validitySeconds: 3600,
  });
  return {
    config: { controller: 'https://127.0.0.1:1', service: 'demo', devAllowPlainWs: true },
    apiSession,
    keyPair,
    certificates: [cert.toString('pem')],
    caBundle: pemsOf(pki.caBundlePem),
  } as unknown as StoredIdentity;
}

/**
 * A `ws://127.0.0.1:port/ws` listener handing each connection to `tls`, as a router's `wss`
 * listener does; `closers` gets what ends it. Returns the port.
 */
export async function webSocketListener(
  tls: TlsServer,
  closers: (() => Promise<void>)[],
): Promise<number> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, path: '/ws' });
  wss.on('connection', (ws) => {
    const stream = webSocketStream(ws);
    stream.on('error', () => stream.destroy());
    tls.emit('connection', stream);
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  closers.push(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((r) => http.close(() => r()));
  });
  return (http.address() as AddressInfo).port;
}

/** A router's TLS 1.3 server with the PKI's router certificate, asking for a client certificate. */
export function routerTlsServer(pki: FabricPki, rejectUnauthorized = true): TlsServer {
  return createTlsServer({
    key: pki.router.keyPem,
    cert: pki.router.certPem + pki.intermediate.toString('pem'),
    ca: pki.caBundlePem,
    requestCert: true,
    rejectUnauthorized,
    minVersion: 'TLSv1.3',
  });
}

/** The controller's description of a router listening on `ws://127.0.0.1:port`. */
export const routerAt = (port: number): EdgeRouterInfo => ({
  name: `er-${port}`,
  supportedProtocols: { ws: `ws://127.0.0.1:${port}` },
});
