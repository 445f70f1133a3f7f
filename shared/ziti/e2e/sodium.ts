/**
 * End-to-end encryption of one edge connection (reference §4): libsodium `crypto_kx` (the dialer is
 * the client, the host the server) and `crypto_secretstream_xchacha20poly1305` with TAG_MESSAGE only.
 *
 * The kx key pair is a non-extractable WebCrypto X25519 key where the engine has one (Chromium,
 * Firefox and Safari since 2025, and Node; libsodium's own pair elsewhere): the private key never
 * exists as bytes in script. The session keys are libsodium's:
 * BLAKE2b-512(X25519(sk, peer) ‖ client_pk ‖ server_pk), the client's rx its first half.
 * Call `await e2eReady()` once before the secretstream classes, and `dispose()` them when the
 * connection ends (their state, which holds the key, lives in libsodium's heap).
 */
import { ZitiE2EError } from '../errors.ts';
import { blake2b, kxKeyPair, scalarmult, sodiumReady } from './libsodium.ts';

export {
  SECRETSTREAM_ABYTES,
  SECRETSTREAM_HEADER_BYTES,
  SecretStreamDecryptor,
  SecretStreamEncryptor,
  useSodiumWasm,
} from './libsodium.ts';

/** crypto_kx public key size. */
export const KX_PUBLIC_KEY_BYTES = 32;

/** Resolves once libsodium is initialised; rejects with a ZitiE2EError when it cannot load. */
export async function e2eReady(): Promise<void> {
  await sodiumReady();
}

export interface KxKeyPair {
  publicKey: Uint8Array;
  /** A non-extractable WebCrypto X25519 key; libsodium's raw key where WebCrypto has no X25519. */
  privateKey: CryptoKey | Uint8Array;
}

/** Session keys of one side: `rx` decrypts what the peer sent, `tx` encrypts what we send. */
export interface SessionKeys {
  rx: Uint8Array;
  tx: Uint8Array;
}

let webCryptoX25519: boolean | undefined;

/** A fresh crypto_kx key pair: WebCrypto's where it has X25519, else libsodium's. */
export async function generateKxKeyPair(): Promise<KxKeyPair> {
  if (webCryptoX25519 !== false) {
    try {
      const pair = (await crypto.subtle.generateKey({ name: 'X25519' }, false, [
        'deriveBits',
      ])) as CryptoKeyPair;
      webCryptoX25519 = true;
      const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
      return { publicKey, privateKey: pair.privateKey };
    } catch (err) {
      if (webCryptoX25519) throw err;
      webCryptoX25519 = false;
    }
  }
  await e2eReady();
  return kxKeyPair();
}

function checkPeerKey(peer: Uint8Array): void {
  if (peer.length !== KX_PUBLIC_KEY_BYTES) {
    throw new ZitiE2EError(`peer public key has ${peer.length} bytes, expected 32`);
  }
}

const badPeerKey = (cause?: unknown) =>
  new ZitiE2EError('key exchange failed (bad peer key)', { cause });

/** X25519(own, peer); a low-order peer key (all-zero result) is refused, as libsodium does. */
async function sharedPoint(own: KxKeyPair, peer: Uint8Array): Promise<Uint8Array> {
  let q: Uint8Array;
  try {
    if (own.privateKey instanceof Uint8Array) {
      await e2eReady();
      q = scalarmult(own.privateKey, peer);
    } else {
      const pub = await crypto.subtle.importKey(
        'raw',
        new Uint8Array(peer),
        { name: 'X25519' },
        true,
        [],
      );
      q = new Uint8Array(
        await crypto.subtle.deriveBits({ name: 'X25519', public: pub }, own.privateKey, 256),
      );
    }
  } catch (cause) {
    throw badPeerKey(cause); // engines refuse a low-order point themselves
  }
  if (q.every((b) => b === 0)) throw badPeerKey();
  return q;
}

/** BLAKE2b-512(q ‖ client_pk ‖ server_pk): the client's [rx, tx], the server's [tx, rx]. */
async function kxHash(
  q: Uint8Array,
  clientPk: Uint8Array,
  serverPk: Uint8Array,
): Promise<[Uint8Array, Uint8Array]> {
  await e2eReady();
  const input = new Uint8Array(96);
  input.set(q, 0);
  input.set(clientPk, 32);
  input.set(serverPk, 64);
  const h = blake2b(64, input);
  input.fill(0);
  q.fill(0);
  return [h.slice(0, 32), h.slice(32, 64)];
}

/** Keys of the dialer (crypto_kx_client_session_keys). */
export async function clientSessionKeys(
  own: KxKeyPair,
  serverPublicKey: Uint8Array,
): Promise<SessionKeys> {
  checkPeerKey(serverPublicKey);
  const q = await sharedPoint(own, serverPublicKey);
  const [rx, tx] = await kxHash(q, own.publicKey, serverPublicKey);
  return { rx, tx };
}

/** Keys of the host (crypto_kx_server_session_keys). */
export async function serverSessionKeys(
  own: KxKeyPair,
  clientPublicKey: Uint8Array,
): Promise<SessionKeys> {
  checkPeerKey(clientPublicKey);
  const q = await sharedPoint(own, clientPublicKey);
  const [tx, rx] = await kxHash(q, clientPublicKey, own.publicKey);
  return { rx, tx };
}
