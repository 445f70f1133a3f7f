/**
 * Browser side of the TLS benchmark, bundled to a classic script (global `tlsBench`) and run in a
 * worker (`browser.ts`): our TLS client over the product's router transport
 * (`openWebSocketDuplex`, as the service worker opens it) to the fixture's server
 * (e2e/tls/harness.ts), and the shared crypto ceiling, measured in the same worker.
 */

import type { RunParams } from '../../e2e/tls/client-entry.ts';
import { openWebSocketDuplex } from '../../shared/streams/websocket-stream.ts';
import { connectTls, type TlsConnection } from '../../shared/tls/index.ts';
import { RECORD, randomBytes } from './pipeline.ts';

export { ceilings } from '../browser/ceiling.ts';
export { pipelineThroughput, primitiveTimings } from './pipeline.ts';

/** A fresh non-extractable P-256 key, certified by the fixture's CA (as the product's identity). */
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
type Identity = Awaited<ReturnType<typeof makeIdentity>>;

/** Opens the WebSocket, then times the handshake alone (as Node's rows time it after connect). */
async function connect(params: RunParams, identity: Identity) {
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

/** `count` sequential handshakes (client certificate, ECDSA P-256): their median in ms. */
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

const line = async (conn: TlsConnection, text: string) => {
  const writer = conn.writable.getWriter();
  await writer.write(new TextEncoder().encode(`${text}\n`));
  writer.releaseLock();
};

/** Application data in MB/s: `download` reads `bytes` the server sends, `upload` sends them. */
export async function throughput(
  params: RunParams,
  direction: 'download' | 'upload',
  bytes: number,
) {
  const { conn } = await connect(params, await makeIdentity(params.issueUrl));
  const reader = conn.readable.getReader();
  const record = randomBytes(RECORD);
  const started = performance.now();
  if (direction === 'download') {
    await line(conn, `source ${bytes}`);
    for (let n = 0; n < bytes; ) {
      const { value, done } = await reader.read();
      if (done) throw new Error('ended early');
      n += value.length;
    }
  } else {
    await line(conn, `sink ${bytes}`);
    const writer = conn.writable.getWriter();
    for (let n = 0; n < bytes; n += record.length) await writer.write(record);
    writer.releaseLock();
    await reader.read(); // the server's "ok" after the last byte
  }
  const seconds = (performance.now() - started) / 1000;
  reader.releaseLock();
  await conn.close();
  return bytes / seconds / 1e6;
}

/** The same transfers over `openWebSocketDuplex` without TLS: the transport's own limit. */
export async function rawThroughput(
  params: RunParams,
  direction: 'download' | 'upload',
  bytes: number,
) {
  const mode = direction === 'download' ? 'source' : 'sink';
  const ws = await openWebSocketDuplex(`${params.wsUrl}?raw=${mode}:${bytes}`);
  const reader = ws.readable.getReader();
  const started = performance.now();
  if (direction === 'download') {
    for (let n = 0; n < bytes; ) {
      const { value, done } = await reader.read();
      if (done) throw new Error('ended early');
      n += value.length;
    }
  } else {
    const writer = ws.writable.getWriter();
    const record = randomBytes(RECORD);
    for (let n = 0; n < bytes; n += record.length) await writer.write(record);
    writer.releaseLock();
    await reader.read(); // "ok" once the server counted every byte
  }
  const mbps = bytes / ((performance.now() - started) / 1000) / 1e6;
  ws.close();
  return mbps;
}
