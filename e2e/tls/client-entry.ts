/**
 * Browser bundle for the TLS e2e test (built to an IIFE that sets `globalThis.tlsTest`): runs in
 * a page and in a service worker. The benchmark has its own (bench/tls/worker-entry.ts).
 */
import { connectTls, type TlsConnection } from '../../shared/tls/index.ts';
import { openWebSocketDuplex } from './websocket-duplex.ts';

export interface RunParams {
  wsUrl: string;
  issueUrl: string;
  rootDer: number[];
  /** Bytes to echo and check. */
  echoBytes: number;
}

const sha256Hex = async (data: Uint8Array<ArrayBuffer>) =>
  Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', data)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');

const randomBytes = (n: number) => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536)
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
};

/** A fresh non-extractable P-256 key, certified by the test server's CA. */
async function makeIdentity(issueUrl: string) {
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const spki = await crypto.subtle.exportKey('spki', keys.publicKey);
  const res = await fetch(issueUrl, { method: 'POST', body: spki });
  if (!res.ok) throw new Error(`issue failed: ${res.status}`);
  return { key: keys.privateKey, certificate: new Uint8Array(await res.arrayBuffer()) };
}

async function connect(params: RunParams, identity: { key: CryptoKey; certificate: Uint8Array }) {
  const transport = await openWebSocketDuplex(params.wsUrl);
  const started = performance.now();
  const conn = await connectTls(transport, {
    serverName: 'localhost',
    trustedCertificates: [new Uint8Array(params.rootDer)],
    clientCertificateChain: [identity.certificate],
    clientKey: identity.key,
  });
  return { conn, handshakeMs: performance.now() - started };
}

const writeLine = async (conn: TlsConnection, line: string) => {
  const writer = conn.writable.getWriter();
  await writer.write(new TextEncoder().encode(`${line}\n`));
  writer.releaseLock();
};

/** Connects, echoes `echoBytes` random bytes through the server, checks them, closes. */
export async function run(params: RunParams) {
  const identity = await makeIdentity(params.issueUrl);
  const { conn, handshakeMs } = await connect(params, identity);
  await writeLine(conn, 'echo');
  const payload = randomBytes(params.echoBytes);
  const reader = conn.readable.getReader();
  const writer = conn.writable.getWriter();
  const sent = writer.write(payload);
  const got = new Uint8Array(params.echoBytes);
  let n = 0;
  while (n < got.length) {
    const { value, done } = await reader.read();
    if (done) break;
    got.set(value, n);
    n += value.length;
  }
  await sent;
  writer.releaseLock();
  reader.releaseLock();
  const result = {
    context: 'ServiceWorkerGlobalScope' in globalThis ? 'service-worker' : 'window',
    extractable: identity.key.extractable,
    keyType: identity.key.type,
    cipherSuite: conn.cipherSuite,
    group: conn.group,
    handshakeMs,
    echoed: n,
    match: (await sha256Hex(got)) === (await sha256Hex(payload)),
  };
  await conn.close();
  return result;
}
