/**
 * Crypto ceilings of the tunnel's data path, measured in the browser under test: the TLS record
 * AEAD (WebCrypto AES-128-GCM, 16 KiB records, 8 in flight, as the TLS layer pipelines them) and the
 * end-to-end secretstream (libsodium XChaCha20-Poly1305, 32 KiB messages, as edge Data carries).
 */
import {
  clientSessionKeys,
  e2eReady,
  newKxKeyPair,
  SecretStreamDecryptor,
  SecretStreamEncryptor,
  serverSessionKeys,
} from '../../shared/ziti/e2e/sodium.ts';

async function aesGcmMBps(ms: number): Promise<number> {
  const key = await crypto.subtle.importKey('raw', new Uint8Array(16), 'AES-GCM', false, [
    'encrypt',
    'decrypt',
  ]);
  const record = new Uint8Array(16 * 1024);
  const iv = new Uint8Array(12);
  let bytes = 0;
  const end = performance.now() + ms;
  const started = performance.now();
  while (performance.now() < end) {
    await Promise.all(
      Array.from({ length: 8 }, () => crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, record)),
    );
    bytes += 8 * record.length;
  }
  return bytes / ((performance.now() - started) / 1000) / 1e6;
}

async function secretstreamMBps(ms: number): Promise<number> {
  await e2eReady();
  const client = newKxKeyPair();
  const server = newKxKeyPair();
  const c = clientSessionKeys(client, server.publicKey);
  const s = serverSessionKeys(server, client.publicKey);
  const push = new SecretStreamEncryptor(c.tx);
  const pull = new SecretStreamDecryptor(push.header, s.rx);
  const message = new Uint8Array(32 * 1024);
  let bytes = 0;
  const started = performance.now();
  const end = started + ms;
  while (performance.now() < end) {
    pull.pull(push.push(message));
    bytes += message.length;
  }
  // One side does either push or pull per byte; this loop did both, so it counts each byte twice.
  return (2 * bytes) / ((performance.now() - started) / 1000) / 1e6;
}

export async function ceilings(ms = 1000): Promise<{ aesGcm: number; secretstream: number }> {
  return { aesGcm: await aesGcmMBps(ms), secretstream: await secretstreamMBps(ms) };
}
