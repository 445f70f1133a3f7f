import { createServer as createTlsServer } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket as NodeWebSocket } from 'ws';
import { type FabricPki, issueIdentityCert, issueLeafCert } from '../../fabric/pki.ts';
import type { StoredIdentity } from '../../shared/identity/store.ts';
import { TlsCertificateError } from '../../shared/tls/index.ts';
import type { EdgeRouterInfo } from '../../shared/ziti/index.ts';
import { testPki, webSocketListener, workerIdentity } from './_test/router-fixtures.ts';
import { TunnelError } from './errors.ts';
import { RouterChannels, routerServerNames } from './router-channels.ts';

let pki: FabricPki;
let identity: StoredIdentity;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  pki = await testPki('router-identity', ['localhost', '127.0.0.1']);
  identity = await workerIdentity(pki, {
    token: 'token',
    id: 'api-session',
    identityId: 'id',
    identityName: 'alice',
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
});
afterAll(async () => {
  for (const close of closers) await close();
});

/**
 * A WebSocket listener whose inner TLS presents `cert` (chained to the intermediate) and requires
 * a client certificate of the CA; it ends each connection right after the handshake.
 */
async function fakeRouter(cert: { certPem: string; keyPem: string }) {
  const handshakes: string[] = [];
  const tls = createTlsServer(
    {
      key: cert.keyPem,
      cert: cert.certPem + pki.intermediate.toString('pem'),
      ca: pki.caBundlePem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    },
    (sock) => {
      handshakes.push(sock.authorized ? 'authorized' : 'unauthorized');
      sock.destroy();
    },
  );
  tls.on('tlsClientError', () => {});
  return { port: await webSocketListener(tls, closers), handshakes };
}

/** Connects the worker's way to a router advertised as `host` and returns why it failed. */
async function connectFailure(port: number, host = '127.0.0.1'): Promise<unknown> {
  vi.stubGlobal('WebSocket', NodeWebSocket);
  const router: EdgeRouterInfo = {
    name: 'er1',
    supportedProtocols: { ws: `ws://${host}:${port}` },
  };
  const err = await new RouterChannels(identity).channelFor([router]).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TunnelError);
  expect(err).toMatchObject({ code: 'router-unreachable' });
  return (err as TunnelError).cause;
}

describe('RouterChannels inner TLS: who may act as a router', () => {
  it("refuses a person's client certificate of the network CA (clientAuth only)", async () => {
    const { port, handshakes } = await fakeRouter(await issueIdentityCert(pki, 'id-mallory'));
    const cause = await connectFailure(port);
    expect(cause).toBeInstanceOf(TlsCertificateError);
    expect(cause).toMatchObject({ code: 'ERR_TLS_CERTIFICATE_PURPOSE' });
    expect(handshakes).toEqual([]);
  });

  it('refuses a server certificate of the network CA issued for another router', async () => {
    const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const other = await issueLeafCert(pki, {
      publicKey: keys.publicKey,
      subject: 'CN=er2',
      validitySeconds: 3600,
      server: true,
      dnsNames: ['er2.example.com'],
    });
    const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
    const lines = pkcs8
      .toString('base64')
      .match(/.{1,64}/g)!
      .join('\n');
    const keyPem = `-----BEGIN PRIVATE KEY-----\n${lines}\n-----END PRIVATE KEY-----\n`;
    const { port, handshakes } = await fakeRouter({
      certPem: `${other.toString('pem')}\n`,
      keyPem,
    });
    const cause = await connectFailure(port);
    expect(cause).toMatchObject({
      code: 'ERR_TLS_CERTIFICATE_NAME',
      message: expect.stringContaining('127.0.0.1'),
    });
    expect(handshakes).toEqual([]);
  });

  it('accepts the router certificate under its advertised IP address or DNS name', async () => {
    const { port, handshakes } = await fakeRouter(pki.router);
    for (const host of ['127.0.0.1', 'localhost']) {
      // The TLS handshake completes; the fake router then ends the connection before the hello.
      const cause = await connectFailure(port, host);
      expect(cause).not.toBeInstanceOf(TlsCertificateError);
    }
    expect(handshakes).toEqual(['authorized', 'authorized']);
  });
});

describe('routerServerNames', () => {
  it("is every host the controller advertises for the router, whatever the listener's protocol", () => {
    expect(
      routerServerNames({
        name: 'er1',
        hostname: 'ER1.example.com',
        supportedProtocols: {
          tls: 'tls://er1.example.com:3022',
          wss: 'wss://er1-wss.example.com:3023',
        },
        urls: { ws: 'ws://[::1]:3024', bad: 'not a url' },
      }),
    ).toEqual(['er1.example.com', 'er1-wss.example.com', '[::1]']);
  });
});
