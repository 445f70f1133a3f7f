/**
 * Browser bundle for the TLS e2e test and benchmark (built to an IIFE that sets
 * `globalThis.tlsTest`): runs in a page and in a service worker.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { expand } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { TlsConnectionImpl } from '../../shared/tls/connection.ts';
import { HandshakeReader } from '../../shared/tls/handshake.ts';
import { connectTls, type TlsConnection } from '../../shared/tls/index.ts';
import { SUITES } from '../../shared/tls/keyschedule.ts';
import { Epoch, RecordLayer } from '../../shared/tls/record-layer.ts';
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

/**
 * The record pipeline alone (no network): `upload` encrypts through a TlsConnection into a
 * counting sink; `download` decrypts pre-encrypted records from memory (64 KiB transport chunks).
 * Isolates our per-record overhead from the WebSocket and the server.
 */
export async function pipelineThroughput(direction: 'download' | 'upload', bytes: number) {
  const suite = SUITES[0]!;
  const secret = randomBytes(32);
  const result = {
    suite,
    group: 'x25519' as const,
    peerCertificates: [],
    clientAuthRequested: false,
  };
  const record = randomBytes(16384);
  if (direction === 'upload') {
    let n = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => {
      done = r;
    });
    const layer = new RecordLayer({
      readable: new ReadableStream(),
      writable: new WritableStream({
        write(chunk) {
          n += chunk.length;
          if (n >= bytes) done();
        },
      }),
    });
    layer.write = new Epoch(suite, secret);
    layer.read = new Epoch(suite, secret);
    const conn = new TlsConnectionImpl(layer, new HandshakeReader(layer), result);
    const writer = conn.writable.getWriter();
    const started = performance.now();
    for (let sent = 0; sent < bytes; sent += record.length) await writer.write(record);
    await finished;
    return bytes / ((performance.now() - started) / 1000) / 1e6;
  }
  // Produce the records with a writer-side layer, then replay them.
  const chunks: Uint8Array[] = [];
  const producer = new RecordLayer({
    readable: new ReadableStream(),
    writable: new WritableStream({
      write(chunk) {
        chunks.push(chunk);
      },
    }),
  });
  producer.write = new Epoch(suite, secret);
  for (let sent = 0; sent < bytes; sent += record.length) {
    await producer.send(23, record);
  }
  await producer.flush();
  const wire: Uint8Array[] = [];
  for (let i = 0; i < chunks.length; i += 4) {
    const group = chunks.slice(i, i + 4);
    const out = new Uint8Array(group.reduce((a, c) => a + c.length, 0));
    let o = 0;
    for (const c of group) {
      out.set(c, o);
      o += c.length;
    }
    wire.push(out);
  }
  let next = 0;
  const layer = new RecordLayer({
    readable: new ReadableStream({
      pull(controller) {
        if (next < wire.length) controller.enqueue(wire[next++]!);
        else controller.close();
      },
    }),
    writable: new WritableStream(),
  });
  layer.read = new Epoch(suite, secret);
  layer.write = new Epoch(suite, secret);
  const conn = new TlsConnectionImpl(layer, new HandshakeReader(layer), result);
  const reader = conn.readable.getReader();
  const started = performance.now();
  let got = 0;
  while (got < bytes) {
    const { value, done } = await reader.read();
    if (done) break;
    got += value.length;
  }
  return got / ((performance.now() - started) / 1000) / 1e6;
}

/** The WebSocket transport alone (no TLS), same sizes as `throughput`. */
export async function rawWebSocketThroughput(
  params: RunParams,
  direction: 'download' | 'upload',
  bytes: number,
) {
  const mode = direction === 'download' ? 'source' : 'sink';
  const ws = new WebSocket(`${params.wsUrl}?raw=${mode}:${bytes}`);
  ws.binaryType = 'arraybuffer';
  await new Promise((r) => {
    ws.onopen = r;
  });
  const started = performance.now();
  await new Promise<void>((resolve) => {
    let n = 0;
    ws.onmessage = (e) => {
      if (direction === 'upload') return resolve();
      n += (e.data as ArrayBuffer).byteLength;
      if (n >= bytes) resolve();
    };
    if (direction === 'upload') {
      const record = randomBytes(16384);
      let sent = 0;
      const pump = () => {
        while (sent < bytes) {
          if (ws.bufferedAmount > 1 << 20) return void setTimeout(pump, 1);
          ws.send(record);
          sent += record.length;
        }
      };
      pump();
    }
  });
  const mbps = bytes / ((performance.now() - started) / 1000) / 1e6;
  ws.close();
  return mbps;
}

/**
 * Handshake primitives, WebCrypto against @noble (microseconds per operation): what the choices
 * in shared/tls/keyshare.ts and keyschedule.ts rest on.
 */
export async function primitiveTimings() {
  const time = async (n: number, fn: () => unknown) => {
    await fn();
    const started = performance.now();
    for (let i = 0; i < n; i++) await fn();
    return ((performance.now() - started) * 1000) / n;
  };
  const peer = x25519.getPublicKey(x25519.utils.randomSecretKey());
  const out: Record<string, number> = {};
  try {
    out['x25519 WebCrypto keygen+export+derive'] = await time(50, async () => {
      const pair = (await crypto.subtle.generateKey({ name: 'X25519' }, false, [
        'deriveBits',
      ])) as CryptoKeyPair;
      await crypto.subtle.exportKey('raw', pair.publicKey);
      const pub = await crypto.subtle.importKey('raw', peer, { name: 'X25519' }, true, []);
      await crypto.subtle.deriveBits({ name: 'X25519', public: pub }, pair.privateKey, 256);
    });
  } catch {
    out['x25519 WebCrypto keygen+export+derive'] = Number.NaN;
  }
  out['x25519 noble keygen+derive'] = await time(50, () => {
    const priv = x25519.utils.randomSecretKey();
    x25519.getPublicKey(priv);
    x25519.getSharedSecret(priv, peer);
  });
  const secret = randomBytes(32);
  const info = randomBytes(50);
  out['HKDF-Expand 32 B noble'] = await time(500, () => expand(sha256, secret, info, 32));
  const hkdfKey = await crypto.subtle.importKey('raw', secret, 'HKDF', false, ['deriveBits']);
  out['HKDF-Expand 32 B WebCrypto'] = await time(200, () =>
    crypto.subtle.deriveBits(
      { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info },
      hkdfKey,
      256,
    ),
  );
  const transcript = randomBytes(4000);
  out['SHA-256 4 KB noble'] = await time(500, () => sha256(transcript));
  out['SHA-256 4 KB WebCrypto'] = await time(200, () =>
    crypto.subtle.digest('SHA-256', transcript),
  );
  return out;
}
