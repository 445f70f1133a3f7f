/**
 * End-to-end encryption of one edge connection (reference §4): libsodium `crypto_kx` (the dialer is
 * the client, the host the server) and `crypto_secretstream_xchacha20poly1305` with TAG_MESSAGE only.
 *
 * The kx key pair is a non-extractable WebCrypto X25519 key where the engine has one (Chromium,
 * Firefox and Safari since 2025, and Node; libsodium's own pair elsewhere): the private key never
 * exists as bytes in script. The session keys are libsodium's:
 * BLAKE2b-512(X25519(sk, peer) ‖ client_pk ‖ server_pk), the client's rx its first half.
 * Call `await e2eReady()` once before the secretstream classes.
 *
 * Note: libsodium-wrappers keeps each stream state (52 bytes) in its WebAssembly heap and has no
 * free function for it, so every connection leaves 104 bytes behind in that heap.
 */
import sodium, { type StateAddress } from 'libsodium-wrappers';
import { ZitiE2EError } from '../errors.ts';

/** Header size of secretstream: the peer's first Data must be exactly this long. */
export const SECRETSTREAM_HEADER_BYTES = 24;
/** Bytes a push adds to the plaintext (tag byte + MAC). */
export const SECRETSTREAM_ABYTES = 17;
/** crypto_kx public key size. */
export const KX_PUBLIC_KEY_BYTES = 32;

let readyPromise: Promise<void> | undefined;

/** Resolves once libsodium is initialised. */
export function e2eReady(): Promise<void> {
  readyPromise ??= sodium.ready;
  return readyPromise;
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
  const kp = sodium.crypto_kx_keypair();
  return { publicKey: kp.publicKey, privateKey: kp.privateKey };
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
      q = sodium.crypto_scalarmult(own.privateKey, peer);
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
  const h = sodium.crypto_generichash(64, input, null);
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

/** Our sending half: `header` goes alone in the first Data; `push` seals each later Data body. */
export class SecretStreamEncryptor {
  readonly header: Uint8Array;
  readonly #state: StateAddress;
  constructor(tx: Uint8Array) {
    const init = sodium.crypto_secretstream_xchacha20poly1305_init_push(tx);
    this.header = init.header;
    this.#state = init.state;
  }
  push(plaintext: Uint8Array): Uint8Array {
    return sodium.crypto_secretstream_xchacha20poly1305_push(
      this.#state,
      plaintext,
      null,
      sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
    );
  }
}

/** The receiving half, made from the peer's 24-byte header. */
export class SecretStreamDecryptor {
  readonly #state: StateAddress;
  constructor(header: Uint8Array, rx: Uint8Array) {
    if (header.length !== SECRETSTREAM_HEADER_BYTES) {
      throw new ZitiE2EError(`peer stream header has ${header.length} bytes, expected 24`);
    }
    this.#state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(header, rx);
  }
  /** Opens one Data body; the tag is ignored as the C SDK does. */
  pull(ciphertext: Uint8Array): Uint8Array {
    let out: { message: Uint8Array; tag: number } | false;
    try {
      out = sodium.crypto_secretstream_xchacha20poly1305_pull(this.#state, ciphertext, null);
    } catch (cause) {
      throw new ZitiE2EError('encrypted message too short', { cause });
    }
    if (!out) throw new ZitiE2EError('encrypted message failed authentication');
    return out.message;
  }
}
