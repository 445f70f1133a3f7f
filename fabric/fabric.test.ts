import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ControllerClient,
  dialService,
  type EdgeConnection,
  pickEdgeRouter,
} from '../shared/ziti/index.ts';
import type { RunningFabric } from './fabric.ts';
import { standardCsr } from './testing/csr.ts';
import { startTestFabric, TEST_USER } from './testing/harness.ts';
import { loginAtIdp } from './testing/idp-login.ts';
import { openClientChannel } from './testing/node-client.ts';
import { deterministicBytes } from './testing/test-app.ts';

let fabric: RunningFabric;

beforeAll(async () => {
  fabric = await startTestFabric({
    services: [
      {
        name: 'demo',
        roleAttributes: ['demo'],
        target: 'demo-app',
        configs: {
          'intercept.v1': {
            protocols: ['tcp'],
            addresses: ['demo.ziti'],
            portRanges: [{ low: 80, high: 80 }],
          },
        },
      },
      {
        name: 'demo-router-hosted',
        roleAttributes: ['demo'],
        hosting: 'router',
        target: 'demo-app',
        configs: {},
      },
    ],
  });
});
afterAll(() => fabric?.close());

/** Reads an HTTP/1.1 response (Connection: close) from a connection, hashing the body as it streams. */
async function httpGet(
  conn: EdgeConnection,
  path: string,
): Promise<{ head: string; bodyBytes: number; sha256: string; text: string }> {
  const writer = conn.writable.getWriter();
  await writer.write(
    new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: demo.ziti\r\nConnection: close\r\n\r\n`,
    ),
  );
  writer.releaseLock();
  const hash = createHash('sha256');
  let head = '';
  let pending = Buffer.alloc(0);
  let bodyBytes = 0;
  let text = '';
  for await (const chunk of conn.readable as unknown as AsyncIterable<Uint8Array>) {
    if (!head) {
      pending = Buffer.concat([pending, chunk]);
      const i = pending.indexOf('\r\n\r\n');
      if (i < 0) continue;
      head = pending.subarray(0, i).toString();
      const body = pending.subarray(i + 4);
      hash.update(body);
      bodyBytes += body.length;
      if (bodyBytes < 4096) text += body.toString();
      continue;
    }
    hash.update(chunk);
    bodyBytes += chunk.length;
    if (bodyBytes < 4096) text += Buffer.from(chunk).toString();
  }
  return { head, bodyBytes, sha256: hash.digest('hex'), text };
}

function expectedSha256(n: number): string {
  const h = createHash('sha256');
  for (const c of deterministicBytes(n)) h.update(c);
  return h.digest('hex');
}

async function clientFor(auth: 'password' | 'idp') {
  const client = new ControllerClient({ baseUrl: fabric.controller.url });
  if (auth === 'password') {
    await client.authenticatePassword(TEST_USER.name, TEST_USER.password);
  } else {
    const tokens = await loginAtIdp({
      issuer: fabric.idp.issuer,
      clientId: 'zt-browser',
      redirectUri: 'http://127.0.0.1:0/__zt/callback',
      username: TEST_USER.name,
      password: TEST_USER.password,
    });
    await client.authenticateExtJwt(tokens.access_token);
  }
  const { csrPem, keyPem } = await standardCsr('CN=ignored');
  const cert = await client.createSessionCertificate(csrPem);
  const cas = await client.caBundle();
  return { client, creds: { certChainPem: cert.certificate, keyPem, caPem: cas.join('\n') } };
}

describe('a Node client from shared/ziti through the fabric', () => {
  it.each(['password', 'idp'] as const)(
    'logs in (%s), gets a session certificate, dials the app through router and tunneler, fetches a page',
    async (auth) => {
      const { client, creds } = await clientFor(auth);
      const svc = (await client.services({ configTypes: ['intercept.v1'] })).find(
        (s) => s.name === 'demo',
      )!;
      expect(svc.permissions).toContain('Dial');
      const session = await client.createSession(svc.id, 'Dial');
      // The client dials the router the session offers, as the browser does.
      const router = pickEdgeRouter(session.edgeRouters, 'wss');
      expect(router?.url).toBe(fabric.router.urls.wss);
      const { channel } = await openClientChannel(
        { wsUrl: router!.url },
        creds,
        client.auth.sessionToken!,
      );
      const conn = await dialService(channel, {
        sessionToken: session.token,
        encryptionRequired: true,
      });
      expect(conn.encrypted).toBe(true);
      const res = await httpGet(conn, '/');
      expect(res.head).toMatch(/^HTTP\/1\.1 200 OK/);
      expect(res.text).toContain('hello from the dark');
      await channel.close();
    },
  );

  it('streams a 64 MiB body with a matching checksum, end-to-end encrypted, via the tunneler', async () => {
    const { client, creds } = await clientFor('password');
    const svc = (await client.services()).find((s) => s.name === 'demo')!;
    const session = await client.createSession(svc.id, 'Dial');
    const { channel } = await openClientChannel(
      { wsUrl: fabric.router.urls.wss! },
      creds,
      client.auth.sessionToken!,
    );
    const n = 64 * 1024 * 1024;
    const started = performance.now();
    const conn = await dialService(channel, {
      sessionToken: session.token,
      encryptionRequired: true,
    });
    const res = await httpGet(conn, `/bytes?n=${n}`);
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `64 MiB through wss + inner TLS + router + tunneler (E2E): ${seconds.toFixed(2)} s, ${(64 / seconds).toFixed(1)} MiB/s`,
    );
    expect(res.head).toContain(`content-length: ${n}`);
    expect(res.bodyBytes).toBe(n);
    expect(res.sha256).toBe(expectedSha256(n));
    await channel.close();
  });

  it('dials a router-hosted terminator (the router is the E2E server) over the tls: listener', async () => {
    const { client, creds } = await clientFor('password');
    const svc = (await client.services()).find((s) => s.name === 'demo-router-hosted')!;
    const session = await client.createSession(svc.id, 'Dial');
    const { channel } = await openClientChannel(
      { tlsUrl: fabric.router.urls.tls! },
      creds,
      client.auth.sessionToken!,
    );
    const n = 4 * 1024 * 1024;
    const conn = await dialService(channel, {
      sessionToken: session.token,
      encryptionRequired: true,
    });
    expect(conn.encrypted).toBe(true);
    const res = await httpGet(conn, `/bytes?n=${n}`);
    expect(res.bodyBytes).toBe(n);
    expect(res.sha256).toBe(expectedSha256(n));
    await channel.close();
  });

  it('uploads through the tunneler and gets the same bytes back', async () => {
    const { client, creds } = await clientFor('password');
    const svc = (await client.services()).find((s) => s.name === 'demo')!;
    const session = await client.createSession(svc.id, 'Dial');
    const { channel } = await openClientChannel(
      { wsUrl: fabric.router.urls.wss! },
      creds,
      client.auth.sessionToken!,
    );
    const conn = await dialService(channel, {
      sessionToken: session.token,
      encryptionRequired: true,
    });
    const body = new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => (i * 31) & 0xff);
    const writer = conn.writable.getWriter();
    const reading = (async () => {
      const parts: Uint8Array[] = [];
      for await (const c of conn.readable as unknown as AsyncIterable<Uint8Array>) parts.push(c);
      return Buffer.concat(parts);
    })();
    await writer.write(
      new TextEncoder().encode(
        `POST /echo HTTP/1.1\r\nHost: demo.ziti\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      ),
    );
    await writer.write(body);
    const all = await reading;
    const i = all.indexOf('\r\n\r\n');
    const head = all.subarray(0, i).toString();
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    // The echo is chunked: decode it.
    let at = i + 4;
    const out: Buffer[] = [];
    for (;;) {
      const eol = all.indexOf('\r\n', at);
      const size = Number.parseInt(all.subarray(at, eol).toString(), 16);
      if (size === 0) break;
      out.push(all.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    expect(Buffer.concat(out).equals(Buffer.from(body))).toBe(true);
    await channel.close();
  });
});

describe("the browser's own stack (shared/streams WebSocket + shared/tls + shared/ziti) against the router", () => {
  async function browserStyleLogin() {
    const { webcrypto } = await import('node:crypto');
    const x509 = await import('./_internal/x509.ts');
    const client = new ControllerClient({ baseUrl: fabric.controller.url });
    await client.authenticatePassword(TEST_USER.name, TEST_USER.password);
    // A non-extractable key, as the bootstrap page makes it.
    const keys = (await webcrypto.subtle.generateKey(
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['sign', 'verify'],
    )) as CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: '',
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    const cert = await client.createSessionCertificate(csr.toString('pem'));
    const der = (pem: string) => x509.PemConverter.decode(pem).map((b) => new Uint8Array(b));
    return {
      client,
      keys,
      chain: der(cert.certificate),
      cas: der((await client.caBundle()).join('\n')),
    };
  }

  async function openBrowserChannel() {
    const { WebSocket } = await import('ws');
    const { webSocketDuplex } = await import('../shared/streams/websocket.ts');
    const { connectTls } = await import('../shared/tls/index.ts');
    const { openChannel } = await import('../shared/ziti/index.ts');
    const login = await browserStyleLogin();
    const ws = new WebSocket(`${fabric.router.urls.wss}/ws`, { ca: fabric.pki.caBundlePem });
    const transport = await webSocketDuplex(ws as unknown as globalThis.WebSocket);
    const tls = await connectTls(transport, {
      trustedCertificates: login.cas,
      clientCertificateChain: login.chain,
      clientKey: login.keys.privateKey,
    });
    const channel = await openChannel(tls, {
      sessionToken: login.client.auth.sessionToken!,
      callerId: 'ws:',
      latencyIntervalMs: 0,
    });
    return { ...login, tls, channel };
  }

  it('negotiates TLS 1.3 inside the WebSocket, opens a channel, and fetches 16 MiB end-to-end encrypted', async () => {
    const { client, tls, channel } = await openBrowserChannel();
    expect(tls.cipherSuite).toMatch(/^TLS_/);
    const svc = (await client.services()).find((s) => s.name === 'demo')!;
    const session = await client.createSession(svc.id, 'Dial');
    const n = 16 * 1024 * 1024;
    const conn = await dialService(channel, {
      sessionToken: session.token,
      encryptionRequired: true,
    });
    const res = await httpGet(conn, `/bytes?n=${n}`);
    expect(res.bodyBytes).toBe(n);
    expect(res.sha256).toBe(expectedSha256(n));
    await channel.close();
  });

  it('is refused without a client certificate: alert certificate_required, then the socket closes', async () => {
    const { WebSocket } = await import('ws');
    const { webSocketDuplex } = await import('../shared/streams/websocket.ts');
    const { connectTls, TlsClientCertificateRefusedError } = await import('../shared/tls/index.ts');
    const login = await browserStyleLogin();
    const ws = new WebSocket(`${fabric.router.urls.wss}/ws`, { ca: fabric.pki.caBundlePem });
    const transport = await webSocketDuplex(ws as unknown as globalThis.WebSocket);
    // TLS 1.3: the client's handshake completes; the router's refusal is the next thing it reads.
    const tls = await connectTls(transport, { trustedCertificates: login.cas });
    const err = await tls.readable
      .getReader()
      .read()
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err).toBeInstanceOf(TlsClientCertificateRefusedError);
    expect((err as Error).message).toContain('116');
  });
});
