/**
 * Browser bundle for the TLS e2e test and benchmark (built to an IIFE that sets
 * `globalThis.tlsTest`): runs in a page and in a service worker.
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

/** Handshake time: `count` sequential handshakes, median ms. */
export async function handshakes(params: RunParams, count: number) {
  const identity = await makeIdentity(params.issueUrl);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const { conn, handshakeMs } = await connect(params, identity);
    times.push(handshakeMs);
    await conn.close();
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Application-data throughput in MB/s: `download` reads `bytes` the server sends; `upload` sends. */
export async function throughput(
  params: RunParams,
  direction: 'download' | 'upload',
  bytes: number,
) {
  const identity = await makeIdentity(params.issueUrl);
  const { conn } = await connect(params, identity);
  const reader = conn.readable.getReader();
  const writer = conn.writable.getWriter();
  const record = randomBytes(16384);
  const started = performance.now();
  if (direction === 'download') {
    await writer.write(new TextEncoder().encode(`source ${bytes}\n`));
    let n = 0;
    while (n < bytes) {
      const { value, done } = await reader.read();
      if (done) throw new Error('ended early');
      n += value.length;
    }
  } else {
    await writer.write(new TextEncoder().encode(`sink ${bytes}\n`));
    for (let n = 0; n < bytes; n += record.length) await writer.write(record);
    await reader.read(); // the server's "ok" after the last byte
  }
  const seconds = (performance.now() - started) / 1000;
  writer.releaseLock();
  reader.releaseLock();
  await conn.close();
  return bytes / seconds / 1e6;
}

/** The ceiling: WebCrypto AES-128-GCM on 16 KiB records, `inFlight` at once, for ~`ms`. */
export async function aeadCeiling(inFlight: number, ms: number) {
  const key = await crypto.subtle.importKey('raw', randomBytes(16), 'AES-GCM', false, ['encrypt']);
  const data = randomBytes(16384);
  const aad = new Uint8Array(5);
  let done = 0;
  let seq = 0;
  const started = performance.now();
  const worker = async () => {
    while (performance.now() - started < ms) {
      const iv = new Uint8Array(12);
      new DataView(iv.buffer).setUint32(8, seq++);
      await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, key, data);
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return (done * data.length) / ((performance.now() - started) / 1000) / 1e6;
}
