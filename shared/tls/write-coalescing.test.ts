/**
 * How application data becomes records, checked against Node's TLS server (OpenSSL) echoing it:
 * a lone write leaves at once, writes made while a record is on its way share the next one, and
 * channel-sized writes fill whole records instead of leaving a small tail record each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ByteDuplex } from '../streams/duplex.ts';
import { connectNode, type Listening, startNodeTlsServer } from './_test/node-peer.ts';
import { createPki, type TestPki } from './_test/pki.ts';
import { ContentType, MAX_PLAINTEXT, RECORD_HEADER_LENGTH } from './constants.ts';
import { connectTls, type TlsConnection } from './index.ts';

let pki: TestPki;
let server: Listening & { errors: Error[] };

beforeAll(async () => {
  pki = await createPki();
  server = await startNodeTlsServer({ key: pki.serverEc.keyPem!, cert: pki.serverEc.chainPem });
});
afterAll(() => server.close());

/** The transport with a count of the application-data records the client writes to it. */
function countingRecords(transport: ByteDuplex): { duplex: ByteDuplex; records: () => number } {
  let records = 0;
  let pending = new Uint8Array(0);
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      const all = new Uint8Array(pending.length + chunk.length);
      all.set(pending);
      all.set(chunk, pending.length);
      let at = 0;
      while (all.length - at >= RECORD_HEADER_LENGTH) {
        const length = (all[at + 3]! << 8) | all[at + 4]!;
        if (all.length - at < RECORD_HEADER_LENGTH + length) break;
        if (all[at] === ContentType.applicationData) records++;
        at += RECORD_HEADER_LENGTH + length;
      }
      pending = all.slice(at);
      controller.enqueue(chunk);
    },
  });
  void counter.readable.pipeTo(transport.writable).catch(() => {});
  return {
    duplex: { readable: transport.readable, writable: counter.writable },
    records: () => records,
  };
}

async function connect() {
  const counted = countingRecords(await connectNode(server.port));
  const conn = await connectTls(counted.duplex, {
    trustedCertificates: [pki.root.der],
    serverName: 'localhost',
  });
  // The handshake's own protected records (our Finished) are not counted.
  const handshake = counted.records();
  return { conn, records: () => counted.records() - handshake };
}

async function readExactly(conn: TlsConnection, n: number): Promise<Uint8Array> {
  const reader = conn.readable.getReader();
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const { value, done } = await reader.read();
    if (done) break;
    out.set(value, got);
    got += value.length;
  }
  reader.releaseLock();
  return out.subarray(0, got);
}

describe('application data into records', () => {
  it('a lone small write is sent at once, in its own record', async () => {
    const { conn, records } = await connect();
    const writer = conn.writable.getWriter();
    await writer.write(Uint8Array.of(1, 2, 3));
    expect(await readExactly(conn, 3)).toEqual(Uint8Array.of(1, 2, 3));
    expect(records()).toBe(1);
    await conn.close();
  });

  it('small writes made while a record is on its way share the next record, in order', async () => {
    const { conn, records } = await connect();
    const writer = conn.writable.getWriter();
    const writes = Array.from({ length: 40 }, (_, i) => Uint8Array.of(i, i, i));
    // Not awaited one by one: like a burst of acknowledgements or requests in one task.
    await Promise.all(writes.map((w) => writer.write(w)));
    const expected = new Uint8Array(writes.flatMap((w) => [...w]));
    expect(await readExactly(conn, expected.length)).toEqual(expected);
    // One record per write before; now the first leaves alone and the rest follow together.
    expect(records()).toBeLessThanOrEqual(3);
    await conn.close();
  });

  it('channel-sized writes fill whole records (no small tail record per write)', async () => {
    const { conn, records } = await connect();
    const writer = conn.writable.getWriter();
    const frame = 2 * MAX_PLAINTEXT + 60; // a 32 KiB payload with its frame and edge headers
    const frames = 8;
    const data = new Uint8Array(frame * frames).map((_, i) => (i * 131) >>> 3);
    const reading = readExactly(conn, data.length);
    for (let i = 0; i < frames; i++) await writer.write(data.subarray(i * frame, (i + 1) * frame));
    expect(Buffer.compare(await reading, data)).toBe(0); // (toEqual is slow on 260 KB)
    // Cut per write this is 3 records a frame (24); filled, one more than the whole records.
    expect(records()).toBeLessThanOrEqual(Math.ceil(data.length / MAX_PLAINTEXT) + 1);
    await conn.close();
    expect(server.errors).toEqual([]);
  });
});
