/** Hostile and broken peers: every failure ends with its typed error and the right alert. */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNode, type Listening, startNodeTlsServer } from './_test/node-peer.ts';
import { createPki, type TestPki } from './_test/pki.ts';
import { startProxy } from './_test/proxy.ts';
import { type Misbehaviour, startScriptedServer } from './_test/scripted-server.ts';
import { connectTls, type TlsClientOptions, TlsError } from './index.ts';

let pki: TestPki;
const servers: Listening[] = [];
beforeAll(async () => {
  pki = await createPki();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const options = (extra: Partial<TlsClientOptions> = {}): TlsClientOptions => ({
  serverName: 'localhost',
  trustedCertificates: [pki.root.der],
  clientCertificateChain: [pki.client.der],
  clientKey: pki.client.keys.privateKey,
  ...extra,
});

async function nodeServer(cert: { pem: string; keyPem?: string }, chainPem?: string) {
  const s = await startNodeTlsServer({
    key: cert.keyPem!,
    cert: chainPem ?? cert.pem,
    clientCa: pki.root.pem,
  });
  servers.push(s);
  return s;
}

const failure = async (port: number, extra: Partial<TlsClientOptions> = {}) => {
  const err = await connectTls(await connectNode(port), options(extra)).then(
    () => undefined,
    (e) => e,
  );
  expect(err).toBeInstanceOf(TlsError);
  return err as TlsError;
};

const waitFor = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('server certificate checks (Node server)', () => {
  it('refuses a server whose certificate is not from the CA', async () => {
    const s = await nodeServer(pki.otherServer);
    const err = await failure(s.port);
    expect(err).toMatchObject({ code: 'ERR_TLS_CERTIFICATE_UNTRUSTED', alert: 48 });
    await waitFor(() => s.errors.length > 0);
    expect(String(s.errors[0])).toMatch(/unknown ca/i); // the server saw our alert
  });

  it('refuses a name mismatch', async () => {
    const s = await nodeServer(pki.serverEc, pki.serverEc.chainPem);
    const err = await failure(s.port, { serverName: 'other.example' });
    expect(err).toMatchObject({ code: 'ERR_TLS_CERTIFICATE_NAME', alert: 42 });
    // ...unless name checks are off
    const ok = await connectTls(
      await connectNode(s.port),
      options({ serverName: 'other.example', verifyServerName: false }),
    );
    await ok.close();
  });

  it('refuses an expired certificate, and a chain missing its intermediate', async () => {
    const s = await nodeServer(pki.expiredServer);
    expect(await failure(s.port)).toMatchObject({ code: 'ERR_TLS_CERTIFICATE_EXPIRED', alert: 45 });
    const s2 = await nodeServer(pki.serverEc); // leaf only
    expect(await failure(s2.port)).toMatchObject({ code: 'ERR_TLS_CERTIFICATE_UNTRUSTED' });
  });

  it('fails reading when Node drops a client certificate it refuses', async () => {
    const s = await nodeServer(pki.serverEc, pki.serverEc.chainPem);
    const conn = await connectTls(
      await connectNode(s.port),
      options({
        clientCertificateChain: [pki.otherClient.der],
        clientKey: pki.otherClient.keys.privateKey,
      }),
    );
    const err = await conn.readable
      .getReader()
      .read()
      .catch((e) => e);
    // Node checks the client certificate after OpenSSL's handshake and destroys the socket
    // without an alert; Go and OpenSSL send one (go-server.test.ts, openssl-server.test.ts).
    expect(err).toMatchObject({ code: 'ERR_TLS_TRANSPORT_CLOSED' });
    await waitFor(() => s.errors.length > 0);
    expect(s.errors.length).toBeGreaterThan(0);
  });
});

describe('scripted hostile server', () => {
  const scripted = async (misbehave: Misbehaviour) => {
    const s = await startScriptedServer({
      chain: [pki.serverEc.der, pki.intermediate.der],
      key: pki.serverEc.keys.privateKey,
      misbehave,
    });
    servers.push(s);
    return s;
  };

  it('completes a handshake when it behaves (control for the cases below)', async () => {
    const s = await scripted('none');
    const conn = await connectTls(await connectNode(s.port), options());
    expect(conn.cipherSuite).toBe('TLS_AES_128_GCM_SHA256');
    await conn.close();
  });

  const cases: [Misbehaviour, string, number | undefined][] = [
    ['bad-finished', 'ERR_TLS_BAD_FINISHED', 51],
    ['certificate-before-ee', 'ERR_TLS_UNEXPECTED_MESSAGE', 10],
    ['plaintext-ee-first', 'ERR_TLS_UNEXPECTED_MESSAGE', 10],
    ['oversized-record', 'ERR_TLS_RECORD_OVERFLOW', 22],
    ['truncated-record', 'ERR_TLS_TRANSPORT_CLOSED', undefined],
    ['tls12-downgrade', 'ERR_TLS_DOWNGRADE', 47],
  ];
  for (const [misbehave, code, alert] of cases) {
    it(`${misbehave} -> ${code}`, async () => {
      const s = await scripted(misbehave);
      const err = await failure(s.port);
      expect(err.code).toBe(code);
      expect(err.alert).toBe(alert);
      if (alert !== undefined) {
        await waitFor(() => s.alerts.length > 0);
        expect(s.alerts).toEqual([alert]); // the alert really went out (encrypted when keyed)
      }
    });
  }

  it('re-decrypts records already in flight behind a KeyUpdate with the new keys', async () => {
    const s = await scripted('key-update-burst');
    const conn = await connectTls(await connectNode(s.port), options());
    const reader = conn.readable.getReader();
    const got: number[] = [];
    while (got.length < 12_000) got.push(...(await reader.read()).value!);
    for (let i = 0; i < 12; i++) expect(got[i * 1000]).toBe(i);
    expect(s.alerts).toEqual([]);
  });

  it('times out a silent server', async () => {
    const s = await scripted('silent');
    const started = Date.now();
    const err = await failure(s.port, { handshakeTimeoutMs: 300 });
    expect(err.code).toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('record layer on the wire (proxy between client and Node server)', () => {
  it('survives the stream cut into 1-byte slices both ways', async () => {
    const s = await nodeServer(pki.serverEc, pki.serverEc.chainPem);
    const proxy = await startProxy(s.port, { sliceSize: 1 });
    servers.push(proxy);
    const conn = await connectTls(await connectNode(proxy.port), options());
    const payload = new Uint8Array(randomBytes(3000));
    const writer = conn.writable.getWriter();
    const reader = conn.readable.getReader();
    await writer.write(payload);
    const got: number[] = [];
    while (got.length < payload.length) got.push(...(await reader.read()).value!);
    expect(new Uint8Array(got)).toEqual(payload);
    writer.releaseLock();
    reader.releaseLock();
    await conn.close();
  });

  it('fails a tampered application record with bad_record_mac', async () => {
    const s = await nodeServer(pki.serverEc, pki.serverEc.chainPem);
    const control: { corruptNextAt?: number } = {};
    const proxy = await startProxy(s.port, control);
    servers.push(proxy);
    const conn = await connectTls(await connectNode(proxy.port), options());
    // Node may still send NewSessionTickets; flush them with a first echo.
    const writer = conn.writable.getWriter();
    const reader = conn.readable.getReader();
    await writer.write(new Uint8Array([1]));
    await reader.read();
    control.corruptNextAt = 10;
    await writer.write(new Uint8Array(100));
    const err = await reader.read().catch((e) => e);
    expect(err).toMatchObject({ code: 'ERR_TLS_BAD_RECORD_MAC', alert: 20 });
    await waitFor(() => s.errors.length > 0);
    expect(String(s.errors[0])).toMatch(/bad record mac/i);
  });
});

describe('options', () => {
  it('refuses a client key that is not ECDSA P-256, and an empty CA bundle', async () => {
    const transport = { readable: new ReadableStream(), writable: new WritableStream() };
    const p384 = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, false, [
      'sign',
    ])) as CryptoKeyPair;
    await expect(
      connectTls(transport, options({ clientKey: p384.privateKey })),
    ).rejects.toMatchObject({
      code: 'ERR_TLS_INVALID_OPTIONS',
    });
    await expect(connectTls(transport, options({ trustedCertificates: [] }))).rejects.toMatchObject(
      { code: 'ERR_TLS_INVALID_OPTIONS' },
    );
  });
});

describe('transport failures', () => {
  it('maps a transport that errors mid-handshake to ERR_TLS_TRANSPORT_CLOSED', async () => {
    const transport = {
      readable: new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.error(new Error('socket reset'));
        },
      }),
      writable: new WritableStream<Uint8Array>(),
    };
    const err = await connectTls(transport, options()).catch((e) => e);
    expect(err).toMatchObject({ code: 'ERR_TLS_TRANSPORT_CLOSED' });
    expect((err as TlsError).cause).toBeInstanceOf(Error);
  });

  it('reports a transport that refuses writes as a TlsError', async () => {
    const transport = {
      readable: new ReadableStream<Uint8Array>(),
      writable: new WritableStream<Uint8Array>({
        write() {
          throw new Error('broken pipe');
        },
      }),
    };
    const err = await connectTls(transport, options({ handshakeTimeoutMs: 2000 })).catch((e) => e);
    expect(err).toBeInstanceOf(TlsError);
    expect(err).toMatchObject({ code: 'ERR_TLS_TRANSPORT_CLOSED' });
  });
});
