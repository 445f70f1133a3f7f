/** Node runs of the TLS benchmark: the same server protocol as the browser worker, over TCP. */
import type { TlsHarness } from '../../e2e/tls/harness.ts';
import { connectNode } from '../../shared/tls/_test/node-peer.ts';
import { connectTls } from '../../shared/tls/index.ts';

/** Connects over TCP, then times the handshake alone (as the browser rows time it). */
const connect = async (h: TlsHarness) => {
  const transport = await connectNode(h.tlsPort);
  const started = performance.now();
  const conn = await connectTls(transport, {
    serverName: 'localhost',
    trustedCertificates: [h.pki.root.der],
    clientCertificateChain: [h.pki.client.der],
    clientKey: h.pki.client.keys.privateKey,
  });
  return { conn, ms: performance.now() - started };
};

export async function nodeHandshakeMs(h: TlsHarness, count: number) {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const { conn, ms } = await connect(h);
    times.push(ms);
    await conn.close();
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export async function nodeThroughput(
  h: TlsHarness,
  direction: 'download' | 'upload',
  bytes: number,
) {
  const { conn } = await connect(h);
  const reader = conn.readable.getReader();
  const writer = conn.writable.getWriter();
  const record = crypto.getRandomValues(new Uint8Array(16384));
  const started = performance.now();
  if (direction === 'download') {
    await writer.write(new TextEncoder().encode(`source ${bytes}\n`));
    for (let n = 0; n < bytes; ) {
      const { value, done } = await reader.read();
      if (done) throw new Error('ended early');
      n += value.length;
    }
  } else {
    await writer.write(new TextEncoder().encode(`sink ${bytes}\n`));
    for (let n = 0; n < bytes; n += record.length) await writer.write(record);
    await reader.read();
  }
  const seconds = (performance.now() - started) / 1000;
  writer.releaseLock();
  reader.releaseLock();
  await conn.close();
  return bytes / seconds / 1e6;
}
