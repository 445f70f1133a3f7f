/**
 * The crypto ceiling of the tunnel's data path: the one function every browser suite divides by,
 * measured in the browser under test, in a worker (`ceilingsInWorker` in ../support/ceiling.ts).
 *
 * Every tunnelled byte passes two ciphers in the service worker: the router link's TLS record AEAD
 * (WebCrypto AES-128-GCM, 16 KiB records, kept 8 in flight as the TLS layer pipelines them) and
 * the end-to-end secretstream (libsodium XChaCha20-Poly1305, 32 KiB messages as edge Data carries
 * them). Each is timed alone, per direction (seal/push for upload, open/pull for download), each
 * byte counted once; a direction's ceiling adds up both ciphers' time per byte: what the worker
 * would reach if it did nothing but the crypto a tunnelled byte needs.
 */
import {
  clientSessionKeys,
  e2eReady,
  generateKxKeyPair,
  SecretStreamDecryptor,
  SecretStreamEncryptor,
  serverSessionKeys,
} from '../../shared/ziti/e2e/sodium.ts';

export interface Ceilings {
  /** AES-128-GCM, 16 KiB records, 8 in flight: encrypt and decrypt, MB/s. */
  aesGcmSeal: number;
  aesGcmOpen: number;
  /** secretstream, 32 KiB messages: encrypt (push) and decrypt (pull), MB/s. */
  secretstreamPush: number;
  secretstreamPull: number;
  /** Both ciphers of the path, per direction: 1 / (1/aes + 1/secretstream), MB/s. */
  upload: number;
  download: number;
}

const RECORD = 16 * 1024;
const IN_FLIGHT = 8;

/** Keeps `IN_FLIGHT` calls running for `ms` and returns MB/s of `bytesPerCall`. */
async function pipelined(
  ms: number,
  bytesPerCall: number,
  call: () => Promise<unknown>,
): Promise<number> {
  await Promise.all(Array.from({ length: IN_FLIGHT }, call)); // warm-up
  let bytes = 0;
  const started = performance.now();
  const end = started + ms;
  const lane = async () => {
    while (performance.now() < end) {
      await call();
      bytes += bytesPerCall;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return bytes / ((performance.now() - started) / 1000) / 1e6;
}

async function aesGcm(ms: number): Promise<{ seal: number; open: number }> {
  const key = await crypto.subtle.importKey('raw', new Uint8Array(16), 'AES-GCM', false, [
    'encrypt',
    'decrypt',
  ]);
  const iv = new Uint8Array(12);
  const record = new Uint8Array(RECORD);
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, record));
  const seal = await pipelined(ms, RECORD, () =>
    crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, record),
  );
  const open = await pipelined(ms, RECORD, () =>
    crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, sealed),
  );
  return { seal, open };
}

/** Calls `call` back to back for `ms` and returns MB/s of `bytesPerCall`. */
function timed(ms: number, bytesPerCall: number, call: () => void): number {
  call(); // warm-up
  let bytes = 0;
  const started = performance.now();
  const end = started + ms;
  while (performance.now() < end) {
    call();
    bytes += bytesPerCall;
  }
  return bytes / ((performance.now() - started) / 1000) / 1e6;
}

async function secretstream(ms: number): Promise<{ push: number; pull: number }> {
  await e2eReady();
  const client = await generateKxKeyPair();
  const server = await generateKxKeyPair();
  const { tx } = await clientSessionKeys(client, server.publicKey);
  const { rx } = await serverSessionKeys(server, client.publicKey);
  const message = new Uint8Array(2 * RECORD);
  const pusher = new SecretStreamEncryptor(tx);
  // As the product seals Data bodies (Data framing): into the encryptor's reused buffer.
  const push = timed(ms, message.length, () => pusher.pushTransient(message));
  // A pull needs the next message of its stream: encrypt a stock of one stream, then pull it
  // over and over, starting the stream again (a new decryptor) each time the stock runs out.
  const encryptor = new SecretStreamEncryptor(tx);
  const stock = Array.from({ length: 256 }, () => encryptor.push(message));
  let decryptor = new SecretStreamDecryptor(encryptor.header, rx);
  let next = 0;
  const pull = timed(ms, message.length, () => {
    if (next === stock.length) {
      decryptor = new SecretStreamDecryptor(encryptor.header, rx);
      next = 0;
    }
    decryptor.pull(stock[next++]!);
  });
  return { push, pull };
}

const bothCiphers = (a: number, b: number) => 1 / (1 / a + 1 / b);

export async function ceilings(ms = 1000): Promise<Ceilings> {
  const aes = await aesGcm(ms);
  const ss = await secretstream(ms);
  return {
    aesGcmSeal: aes.seal,
    aesGcmOpen: aes.open,
    secretstreamPush: ss.push,
    secretstreamPull: ss.pull,
    upload: bothCiphers(aes.seal, ss.push),
    download: bothCiphers(aes.open, ss.pull),
  };
}
