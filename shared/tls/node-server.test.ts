/** Against Node's TLS server (OpenSSL 3): every suite x group, EC and RSA certs, HRR, KeyUpdate, bulk. */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNode, type Listening, startNodeTlsServer } from './_test/node-peer.ts';
import { createPki, type TestPki } from './_test/pki.ts';
import type { CipherSuiteName } from './constants.ts';
import { connectTls, type TlsConnection } from './index.ts';

let pki: TestPki;
const servers: Listening[] = [];

beforeAll(async () => {
  pki = await createPki();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const suites: CipherSuiteName[] = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
];
const groups = [
  ['x25519', 'X25519'],
  ['secp256r1', 'P-256'],
] as const;

async function echo(conn: TlsConnection, payload: Uint8Array) {
  const writer = conn.writable.getWriter();
  const reader = conn.readable.getReader();
  await writer.write(payload);
  const got: number[] = [];
  while (got.length < payload.length) {
    const { value, done } = await reader.read();
    if (done) break;
    got.push(...value);
  }
  writer.releaseLock();
  reader.releaseLock();
  return new Uint8Array(got);
}

const clientAuth = () => ({
  trustedCertificates: [pki.root.der],
  clientCertificateChain: [pki.client.der],
  clientKey: pki.client.keys.privateKey,
});

describe('Node tls.Server with requestCert + rejectUnauthorized', () => {
  for (const suite of suites) {
    for (const [group, curve] of groups) {
      for (const kind of ['EC', 'RSA'] as const) {
        it(`${suite} / ${group} / ${kind} server certificate`, async () => {
          const cert = kind === 'EC' ? pki.serverEc : pki.serverRsa;
          const server = await startNodeTlsServer({
            key: cert.keyPem!,
            cert: kind === 'EC' ? pki.serverEc.chainPem : cert.pem,
            clientCa: pki.root.pem,
            ciphersuites: suite,
            ecdhCurve: curve,
          });
          servers.push(server);
          const conn = await connectTls(await connectNode(server.port), {
            ...clientAuth(),
            serverName: 'localhost',
          });
          expect(conn.cipherSuite).toBe(suite);
          expect(conn.group).toBe(group);
          expect(conn.peerCertificates[0]).toEqual(cert.der);
          const payload = crypto.getRandomValues(new Uint8Array(40_000));
          expect(await echo(conn, payload)).toEqual(payload);
          await conn.close();
          expect(server.errors).toEqual([]);
        });
      }
    }
  }

  it('answers a HelloRetryRequest when the server wants the group we sent no share for', async () => {
    const server = await startNodeTlsServer({
      key: pki.serverEc.keyPem!,
      cert: pki.serverEc.chainPem,
      clientCa: pki.root.pem,
      ecdhCurve: 'P-256',
    });
    servers.push(server);
    const conn = await connectTls(await connectNode(server.port), {
      ...clientAuth(),
      keyShares: ['x25519'],
    });
    expect(conn.group).toBe('secp256r1');
    expect(await echo(conn, new Uint8Array([1, 2, 3]))).toEqual(new Uint8Array([1, 2, 3]));
    await conn.close();
  });

  it('sends and answers KeyUpdate (client-initiated, update_requested)', async () => {
    const server = await startNodeTlsServer({
      key: pki.serverEc.keyPem!,
      cert: pki.serverEc.chainPem,
      clientCa: pki.root.pem,
    });
    servers.push(server);
    const conn = await connectTls(await connectNode(server.port), clientAuth());
    for (let i = 0; i < 3; i++) {
      await conn.updateKeys(true); // the server rotates its keys too
      const payload = crypto.getRandomValues(new Uint8Array(50_000));
      expect(await echo(conn, payload)).toEqual(payload);
    }
    await conn.close();
    expect(server.errors).toEqual([]);
  });

  it('moves 64 MiB each way with matching SHA-256', async () => {
    const total = 64 * 1024 * 1024;
    const chunk = 64 * 1024;
    let serverIn: Promise<string> = Promise.resolve('');
    let serverOut = '';
    const server = await startNodeTlsServer({
      key: pki.serverEc.keyPem!,
      cert: pki.serverEc.chainPem,
      clientCa: pki.root.pem,
      ciphersuites: 'TLS_AES_128_GCM_SHA256',
      onSecureConnection: (socket) => {
        const inHash = createHash('sha256');
        serverIn = new Promise((resolve) => {
          socket.on('data', (d) => inHash.update(d));
          socket.on('end', () => resolve(inHash.digest('hex')));
        });
        const outHash = createHash('sha256');
        let sent = 0;
        const pump = () => {
          while (sent < total) {
            const buf = crypto.getRandomValues(new Uint8Array(chunk));
            outHash.update(buf);
            sent += chunk;
            if (!socket.write(buf)) return void socket.once('drain', pump);
          }
          serverOut = outHash.digest('hex');
          socket.end();
        };
        pump();
      },
    });
    servers.push(server);
    const conn = await connectTls(await connectNode(server.port), clientAuth());
    const started = performance.now();
    const writeSide = (async () => {
      const h = createHash('sha256');
      const writer = conn.writable.getWriter();
      for (let sent = 0; sent < total; sent += chunk) {
        const buf = crypto.getRandomValues(new Uint8Array(chunk));
        h.update(buf);
        await writer.write(buf);
      }
      await writer.close();
      return h.digest('hex');
    })();
    const readSide = (async () => {
      const h = createHash('sha256');
      let n = 0;
      const reader = conn.readable.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        h.update(value);
        n += value.length;
      }
      return { n, digest: h.digest('hex') };
    })();
    const [clientOut, clientIn] = await Promise.all([writeSide, readSide]);
    const seconds = (performance.now() - started) / 1000;
    console.log(`64 MiB each way in ${seconds.toFixed(2)} s`);
    expect(clientIn.n).toBe(total);
    expect(clientIn.digest).toBe(serverOut);
    expect(await serverIn).toBe(clientOut);
  }, 60_000);
});
