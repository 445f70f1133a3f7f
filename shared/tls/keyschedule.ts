/** TLS 1.3 key schedule (RFC 8446 §7.1) and transcript hash, on @noble/hashes (synchronous). */
import { expand, extract } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha384 } from '@noble/hashes/sha2.js';
import { ByteWriter, utf8 } from './_internal/bytes.ts';
import { CipherSuite, type CipherSuiteName } from './constants.ts';

type HashFn = typeof sha256;

export interface SuiteParams {
  readonly name: CipherSuiteName;
  readonly id: number;
  readonly hash: HashFn;
  readonly hashLength: 32 | 48;
  readonly keyLength: 16 | 32;
  readonly aead: 'AES-GCM' | 'CHACHA20-POLY1305';
}

export const SUITES: readonly SuiteParams[] = [
  {
    name: 'TLS_AES_128_GCM_SHA256',
    id: CipherSuite.TLS_AES_128_GCM_SHA256,
    hash: sha256,
    hashLength: 32,
    keyLength: 16,
    aead: 'AES-GCM',
  },
  {
    name: 'TLS_AES_256_GCM_SHA384',
    id: CipherSuite.TLS_AES_256_GCM_SHA384,
    hash: sha384 as unknown as HashFn,
    hashLength: 48,
    keyLength: 32,
    aead: 'AES-GCM',
  },
  {
    name: 'TLS_CHACHA20_POLY1305_SHA256',
    id: CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
    hash: sha256,
    hashLength: 32,
    keyLength: 32,
    aead: 'CHACHA20-POLY1305',
  },
];

/** HKDF-Expand-Label (RFC 8446 §7.1). */
export const hkdfExpandLabel = (
  hash: HashFn,
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
): Uint8Array => {
  const info = new ByteWriter()
    .u16(length)
    .vector(1, (w) => w.bytes(utf8(`tls13 ${label}`)))
    .vector(1, (w) => w.bytes(context))
    .finish();
  return expand(hash, secret, info, length);
};

export const deriveSecret = (
  hash: HashFn,
  secret: Uint8Array,
  label: string,
  transcriptHash: Uint8Array,
) => hkdfExpandLabel(hash, secret, label, transcriptHash, hash.outputLen);

export interface TrafficKeys {
  readonly key: Uint8Array;
  readonly iv: Uint8Array;
}

export const trafficKeys = (suite: SuiteParams, secret: Uint8Array): TrafficKeys => ({
  key: hkdfExpandLabel(suite.hash, secret, 'key', new Uint8Array(0), suite.keyLength),
  iv: hkdfExpandLabel(suite.hash, secret, 'iv', new Uint8Array(0), 12),
});

/** RFC 8446 §7.2: application_traffic_secret_N+1. */
export const nextTrafficSecret = (suite: SuiteParams, secret: Uint8Array) =>
  hkdfExpandLabel(suite.hash, secret, 'traffic upd', new Uint8Array(0), suite.hashLength);

/** RFC 8446 §4.4.4: verify_data = HMAC(finished_key, transcript hash). */
export const finishedVerifyData = (
  suite: SuiteParams,
  baseKey: Uint8Array,
  transcriptHash: Uint8Array,
) => {
  const finishedKey = hkdfExpandLabel(
    suite.hash,
    baseKey,
    'finished',
    new Uint8Array(0),
    suite.hashLength,
  );
  return hmac(suite.hash, finishedKey, transcriptHash);
};

/** The secrets of one (EC)DHE handshake without PSK. */
export class KeySchedule {
  private readonly zeros: Uint8Array;
  private readonly emptyHash: Uint8Array;
  readonly handshakeSecret: Uint8Array;
  private readonly masterSecret: Uint8Array;

  constructor(
    readonly suite: SuiteParams,
    sharedSecret: Uint8Array,
  ) {
    this.zeros = new Uint8Array(suite.hashLength);
    this.emptyHash = suite.hash(new Uint8Array(0));
    const early = extract(suite.hash, this.zeros, this.zeros);
    const derived = deriveSecret(suite.hash, early, 'derived', this.emptyHash);
    this.handshakeSecret = extract(suite.hash, sharedSecret, derived);
    const derived2 = deriveSecret(suite.hash, this.handshakeSecret, 'derived', this.emptyHash);
    this.masterSecret = extract(suite.hash, this.zeros, derived2);
  }

  handshakeTrafficSecrets(transcriptHash: Uint8Array) {
    const h = this.suite.hash;
    return {
      client: deriveSecret(h, this.handshakeSecret, 'c hs traffic', transcriptHash),
      server: deriveSecret(h, this.handshakeSecret, 's hs traffic', transcriptHash),
    };
  }

  applicationTrafficSecrets(transcriptHash: Uint8Array) {
    const h = this.suite.hash;
    return {
      client: deriveSecret(h, this.masterSecret, 'c ap traffic', transcriptHash),
      server: deriveSecret(h, this.masterSecret, 's ap traffic', transcriptHash),
    };
  }
}

/**
 * The running transcript (RFC 8446 §4.4.1), hashed incrementally: a digest clones the running
 * state instead of hashing every message again. Messages are buffered until the suite (and so the
 * hash) is known; after a HelloRetryRequest, ClientHello1 is replaced by its message_hash.
 */
export class Transcript {
  private pending: Uint8Array[] = [];
  private state?: ReturnType<HashFn['create']>;
  private hash?: HashFn;

  add(message: Uint8Array) {
    if (this.state) this.state.update(message);
    else this.pending.push(message);
  }

  setHash(hash: HashFn) {
    this.hash = hash;
    this.state = hash.create();
    for (const m of this.pending) this.state.update(m);
    this.pending = [];
  }

  /** RFC 8446 §4.4.1: message_hash(254) || 00 00 len || Hash(ClientHello1). */
  replaceWithMessageHash() {
    const h = this.digest();
    this.state = this.hash!.create();
    this.state.update(new Uint8Array([254, 0, 0, h.length]));
    this.state.update(h);
  }

  digest(): Uint8Array {
    return this.state!.clone().digest();
  }
}
