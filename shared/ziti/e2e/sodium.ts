/**
 * End-to-end encryption of one edge connection (reference §4): libsodium `crypto_kx` (the dialer is
 * the client, the host the server) and `crypto_secretstream_xchacha20poly1305` with TAG_MESSAGE only.
 * Call `await e2eReady()` once before anything else here.
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
  privateKey: Uint8Array;
}

/** Session keys of one side: `rx` decrypts what the peer sent, `tx` encrypts what we send. */
export interface SessionKeys {
  rx: Uint8Array;
  tx: Uint8Array;
}

export function newKxKeyPair(): KxKeyPair {
  const kp = sodium.crypto_kx_keypair();
  return { publicKey: kp.publicKey, privateKey: kp.privateKey };
}

function checkPeerKey(peer: Uint8Array): void {
  if (peer.length !== KX_PUBLIC_KEY_BYTES) {
    throw new ZitiE2EError(`peer public key has ${peer.length} bytes, expected 32`);
  }
}

/** Keys of the dialer (crypto_kx_client_session_keys). */
export function clientSessionKeys(own: KxKeyPair, serverPublicKey: Uint8Array): SessionKeys {
  checkPeerKey(serverPublicKey);
  try {
    const k = sodium.crypto_kx_client_session_keys(own.publicKey, own.privateKey, serverPublicKey);
    return { rx: k.sharedRx, tx: k.sharedTx };
  } catch (cause) {
    throw new ZitiE2EError('key exchange failed (bad peer key)', { cause });
  }
}

/** Keys of the host (crypto_kx_server_session_keys). */
export function serverSessionKeys(own: KxKeyPair, clientPublicKey: Uint8Array): SessionKeys {
  checkPeerKey(clientPublicKey);
  try {
    const k = sodium.crypto_kx_server_session_keys(own.publicKey, own.privateKey, clientPublicKey);
    return { rx: k.sharedRx, tx: k.sharedTx };
  } catch (cause) {
    throw new ZitiE2EError('key exchange failed (bad peer key)', { cause });
  }
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

/** `newKxKeyPair` after waiting for libsodium. */
export async function generateKxKeyPair(): Promise<KxKeyPair> {
  await e2eReady();
  return newKxKeyPair();
}
