/**
 * Transport-free probes of the TLS benchmark, run alike in Node and in the browser worker: our
 * record pipeline to and from memory, and the handshake primitives our choices rest on.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { expand, hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { TlsConnectionImpl } from '../../shared/tls/connection.ts';
import { HandshakeReader } from '../../shared/tls/handshake.ts';
import { SUITES } from '../../shared/tls/keyschedule.ts';
import { Epoch, RecordLayer } from '../../shared/tls/record-layer.ts';

export const RECORD = 16384;

export const randomBytes = (n: number) => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536)
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
};

/** A connection past its handshake over `transport`, both directions keyed with `secret`. */
function established(
  transport: ConstructorParameters<typeof RecordLayer>[0],
  secret: Uint8Array,
): TlsConnectionImpl {
  const suite = SUITES[0]!; // TLS_AES_128_GCM_SHA256, the ceiling's cipher
  const layer = new RecordLayer(transport);
  layer.read = new Epoch(suite, secret);
  layer.write = new Epoch(suite, secret);
  return new TlsConnectionImpl(layer, new HandshakeReader(layer), {
    suite,
    group: 'x25519',
    peerCertificates: [],
    clientAuthRequested: false,
  });
}

/**
 * The record pipeline alone, in MB/s of plaintext: `upload` writes 16 KiB chunks through a
 * TlsConnection until a sink has every sealed record; `download` reads records sealed beforehand
 * from memory, one record per transport chunk as OpenZiti's router sends them (each TLS record is
 * a WebSocket message of its own, reference §5). What TLS costs over the AEAD.
 */
export async function pipelineThroughput(direction: 'download' | 'upload', bytes: number) {
  const secret = randomBytes(32);
  const record = randomBytes(RECORD);
  const records = Math.ceil(bytes / RECORD);
  const wireBytes = records * (5 + RECORD + 1 + 16);
  if (direction === 'upload') {
    let n = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => {
      done = r;
    });
    const conn = established(
      {
        readable: new ReadableStream(),
        writable: new WritableStream({
          write(chunk) {
            n += chunk.length;
            if (n >= wireBytes) done();
          },
        }),
        // As the product's router transport: a WebSocket copies each write (ByteDuplex).
        writesCopied: true,
      },
      secret,
    );
    const writer = conn.writable.getWriter();
    const started = performance.now();
    for (let i = 0; i < records; i++) await writer.write(record);
    await finished;
    return (records * RECORD) / ((performance.now() - started) / 1000) / 1e6;
  }
  // Seal the records with a writer-side layer first (not timed), then replay them.
  const sealed: Uint8Array[] = [];
  const producer = new RecordLayer({
    readable: new ReadableStream(),
    writable: new WritableStream({
      write(chunk) {
        sealed.push(chunk.slice());
      },
    }),
  });
  producer.write = new Epoch(SUITES[0]!, secret);
  // One at a time, so that each record is a transport write (a message) of its own.
  for (let i = 0; i < records; i++) await producer.send(23, record);
  let next = 0;
  const conn = established(
    {
      readable: new ReadableStream({
        pull(controller) {
          if (next >= sealed.length) return controller.close();
          controller.enqueue(sealed[next++]!);
        },
      }),
      writable: new WritableStream(),
    },
    secret,
  );
  const reader = conn.readable.getReader();
  const started = performance.now();
  let got = 0;
  while (got < records * RECORD) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`pipeline ended after ${got} bytes`);
    got += value.length;
  }
  return got / ((performance.now() - started) / 1000) / 1e6;
}

/**
 * Handshake primitives, WebCrypto against @noble (microseconds per operation): what the choices
 * in shared/tls/keyshare.ts and keyschedule.ts rest on. WebCrypto's HKDF has no Expand alone
 * (deriveBits always extracts first), so it is compared with noble's Extract+Expand; the key
 * schedule's per-label step is noble's Expand alone.
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
  const salt = new Uint8Array(0);
  out['HKDF-Expand 32 B noble (key schedule step)'] = await time(500, () =>
    expand(sha256, secret, info, 32),
  );
  out['HKDF Extract+Expand 32 B noble'] = await time(500, () =>
    hkdf(sha256, secret, salt, info, 32),
  );
  const hkdfKey = await crypto.subtle.importKey('raw', secret, 'HKDF', false, ['deriveBits']);
  out['HKDF Extract+Expand 32 B WebCrypto'] = await time(200, () =>
    crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info }, hkdfKey, 256),
  );
  const transcript = randomBytes(4000);
  out['SHA-256 4 KB noble'] = await time(500, () => sha256(transcript));
  out['SHA-256 4 KB WebCrypto'] = await time(200, () =>
    crypto.subtle.digest('SHA-256', transcript),
  );
  return out;
}
