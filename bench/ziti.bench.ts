/**
 * OpenZiti client core throughput in Node: the channel V2 codec on 32 KiB Data frames (encode +
 * decode), E2E secretstream (encrypt + decrypt) on 32 KiB messages, and a whole edge connection
 * (channel + edge + E2E) over an in-memory transport, against the same bytes copied without Ziti.
 */
import { duplexPair } from '../shared/streams/pair.ts';
import {
  acceptChannel,
  acceptConnect,
  ContentType,
  clientSessionKeys,
  dialService,
  e2eReady,
  encodeData,
  encodeMessage,
  generateKxKeyPair,
  MessageDecoder,
  openChannel,
  SecretStreamDecryptor,
  SecretStreamEncryptor,
  serverSessionKeys,
} from '../shared/ziti/index.ts';
import { type Bench, type BenchResult, throughput } from './harness.ts';

const FRAME_BODY = 32 * 1024;
const BATCH = 64; // frames per call
const payload = new Uint8Array(FRAME_BODY).map((_, i) => (i * 7) & 0xff);

async function codec(): Promise<number> {
  const decoder = new MessageDecoder();
  let seq = 1;
  return throughput(FRAME_BODY * BATCH, () => {
    for (let i = 0; i < BATCH; i++) {
      const frame = encodeMessage({
        ...encodeData({ connId: 1, seq, body: payload }),
        sequence: seq++,
      });
      // split in two, as transports do
      const a = decoder.push(frame.subarray(0, 1000));
      const b = decoder.push(frame.subarray(1000));
      if (a.length + b.length !== 1) throw new Error('decode failed');
    }
  });
}

async function e2e(): Promise<number> {
  await e2eReady();
  const client = await generateKxKeyPair();
  const server = await generateKxKeyPair();
  const c = await clientSessionKeys(client, server.publicKey);
  const s = await serverSessionKeys(server, client.publicKey);
  const enc = new SecretStreamEncryptor(c.tx);
  const dec = new SecretStreamDecryptor(enc.header, s.rx);
  const plain = payload.subarray(0, FRAME_BODY - 17);
  return throughput(plain.length * BATCH, () => {
    for (let i = 0; i < BATCH; i++) {
      if (dec.pull(enc.push(plain)).length !== plain.length) throw new Error('e2e failed');
    }
  });
}

/** MB/s of `bytes` sent through `setup()`'s writable and read from its readable. */
async function pipeThroughput(
  bytes: number,
  setup: () => Promise<{
    writable: WritableStream<Uint8Array>;
    readable: ReadableStream<Uint8Array>;
    done(): Promise<void>;
  }>,
): Promise<number> {
  const { writable, readable, done } = await setup();
  const w = writable.getWriter();
  const r = readable.getReader();
  const chunk = new Uint8Array(64 * 1024);
  const mbps = await throughput(bytes, async () => {
    let got = 0;
    const reading = (async () => {
      while (got < bytes) {
        const { value, done: end } = await r.read();
        if (end) throw new Error('ended early');
        got += value.length;
      }
    })();
    for (let sent = 0; sent < bytes; sent += chunk.length) await w.write(chunk);
    await reading;
  });
  await done();
  return mbps;
}

async function edge(encryptionRequired: boolean): Promise<number> {
  return pipeThroughput(16 * 1024 * 1024, async () => {
    const [a, b] = duplexPair({ highWaterMarkBytes: 256 * 1024 });
    const [client, router] = await Promise.all([
      openChannel(a, { sessionToken: 's', latencyIntervalMs: 0 }),
      acceptChannel(b),
    ]);
    router.handle(ContentType.Connect, (msg) => {
      // The router side echoes: read → write back.
      void acceptConnect(router, msg)
        .then((conn) => conn.readable.pipeTo(conn.writable))
        .catch(() => {}); // ends when the bench closes the channel
    });
    const conn = await dialService(client, { sessionToken: 't', encryptionRequired });
    return { writable: conn.writable, readable: conn.readable, done: () => client.close() };
  });
}

async function direct(): Promise<number> {
  return pipeThroughput(16 * 1024 * 1024, async () => {
    const [a, b] = duplexPair({ highWaterMarkBytes: 256 * 1024 });
    void b.readable.pipeTo(b.writable);
    return { writable: a.writable, readable: a.readable, done: async () => {} };
  });
}

const bench: Bench = async () => {
  const results: BenchResult[] = [];
  results.push({
    suite: 'ziti',
    name: 'codec encode+decode, 32 KiB Data frames',
    value: await codec(),
    unit: 'MB/s',
  });
  results.push({
    suite: 'ziti',
    name: 'e2e secretstream encrypt+decrypt, 32 KiB',
    value: await e2e(),
    unit: 'MB/s',
  });
  const base = { name: 'in-memory echo without ziti', value: await direct() };
  results.push({ suite: 'ziti', name: base.name, value: base.value, unit: 'MB/s' });
  const plain = { name: 'edge connection echo, plaintext', value: await edge(false) };
  results.push({ suite: 'ziti', ...plain, unit: 'MB/s', baseline: base });
  results.push({
    suite: 'ziti',
    name: 'edge connection echo, e2e encrypted',
    value: await edge(true),
    unit: 'MB/s',
    baseline: plain,
    note: 'each byte sealed and opened twice (there and back), one process',
  });
  return results;
};
export default bench;
