/**
 * Record protection (RFC 8446 §5.2-5.3): AES-GCM on WebCrypto (runs off the main thread, so
 * several records can be in flight), ChaCha20-Poly1305 on @noble/ciphers (synchronous).
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import type { SuiteParams, TrafficKeys } from './keyschedule.ts';

export interface RecordCipher {
  /**
   * Encrypts with the per-record nonce for `seq`; returns ciphertext || tag. Reads `aad` and
   * `plaintext` before it returns (WebCrypto copies its inputs synchronously), so the caller may
   * reuse those buffers at once.
   */
  seal(seq: number, aad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array>;
  /** Decrypts and authenticates; rejects on a bad tag. */
  open(seq: number, aad: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>;
}

/** RFC 8446 §5.3: the 64-bit record sequence number, left-padded, XORed into the IV. */
const nonceFor = (iv: Uint8Array, seq: number): Uint8Array<ArrayBuffer> => {
  const nonce = new Uint8Array(12);
  nonce.set(iv);
  const hi = Math.floor(seq / 0x1_0000_0000);
  const lo = seq >>> 0;
  nonce[4]! ^= hi >>> 24;
  nonce[5]! ^= (hi >>> 16) & 0xff;
  nonce[6]! ^= (hi >>> 8) & 0xff;
  nonce[7]! ^= hi & 0xff;
  nonce[8]! ^= lo >>> 24;
  nonce[9]! ^= (lo >>> 16) & 0xff;
  nonce[10]! ^= (lo >>> 8) & 0xff;
  nonce[11]! ^= lo & 0xff;
  return nonce;
};

const buf = (b: Uint8Array): Uint8Array<ArrayBuffer> =>
  b.buffer instanceof ArrayBuffer ? (b as Uint8Array<ArrayBuffer>) : new Uint8Array(b);

class WebCryptoAesGcm implements RecordCipher {
  private readonly key: Promise<CryptoKey>;
  private readyKey?: CryptoKey;
  constructor(private readonly keys: TrafficKeys) {
    this.key = crypto.subtle.importKey('raw', buf(keys.key), 'AES-GCM', false, [
      'encrypt',
      'decrypt',
    ]);
    this.key.then(
      (k) => {
        this.readyKey = k;
      },
      () => {}, // surfaced by seal/open
    );
  }
  seal(seq: number, aad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
    const params = { name: 'AES-GCM', iv: nonceFor(this.keys.iv, seq), additionalData: buf(aad) };
    if (this.readyKey) {
      // Called synchronously: WebCrypto has copied the inputs when this returns.
      return crypto.subtle
        .encrypt(params, this.readyKey, buf(plaintext))
        .then((out) => new Uint8Array(out));
    }
    const copy = plaintext.slice();
    params.additionalData = new Uint8Array(aad);
    return this.key
      .then((key) => crypto.subtle.encrypt(params, key, copy))
      .then((out) => new Uint8Array(out));
  }
  open(seq: number, aad: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
    const params = { name: 'AES-GCM', iv: nonceFor(this.keys.iv, seq), additionalData: buf(aad) };
    const data = buf(ciphertext);
    // One reaction per record once the key is there: each await costs microseconds in browsers.
    if (this.readyKey) {
      return crypto.subtle.decrypt(params, this.readyKey, data).then((out) => new Uint8Array(out));
    }
    return this.key
      .then((key) => crypto.subtle.decrypt(params, key, data))
      .then((out) => new Uint8Array(out));
  }
}

class NobleChaCha20Poly1305 implements RecordCipher {
  constructor(private readonly keys: TrafficKeys) {}
  async seal(seq: number, aad: Uint8Array, plaintext: Uint8Array) {
    return chacha20poly1305(this.keys.key, nonceFor(this.keys.iv, seq), aad).encrypt(plaintext);
  }
  async open(seq: number, aad: Uint8Array, ciphertext: Uint8Array) {
    return chacha20poly1305(this.keys.key, nonceFor(this.keys.iv, seq), aad).decrypt(ciphertext);
  }
}

export const createRecordCipher = (suite: SuiteParams, keys: TrafficKeys): RecordCipher =>
  suite.aead === 'AES-GCM' ? new WebCryptoAesGcm(keys) : new NobleChaCha20Poly1305(keys);
