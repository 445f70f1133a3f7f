/**
 * E2E interop: our client half against libsodium's own server functions (and the reverse), over real
 * message sequences; the kx keys also checked against the reference formula with independent
 * primitives (@noble): H = BLAKE2b-512(X25519(sk, peer) ‖ client_pk ‖ server_pk), client rx = H[0:32].
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { blake2b } from '@noble/hashes/blake2.js';
import sodium from 'libsodium-wrappers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ZitiE2EError } from '../errors.ts';
import {
  clientSessionKeys,
  e2eReady,
  generateKxKeyPair,
  SECRETSTREAM_ABYTES,
  SECRETSTREAM_HEADER_BYTES,
  SecretStreamDecryptor,
  SecretStreamEncryptor,
  serverSessionKeys,
} from './sodium.ts';

const TAG_MESSAGE = 0;
const messages = [1, 17, 1000, 32_751, 5, 65_536].map((n, i) =>
  Uint8Array.from({ length: n }, (_, j) => (i * 31 + j * 7) & 0xff),
);

beforeAll(async () => {
  await e2eReady();
  await sodium.ready;
});

describe('crypto_kx', () => {
  it('client and server keys follow the reference formula (checked with @noble)', async () => {
    const client = await generateKxKeyPair();
    // The server's pair from libsodium: its raw private key lets @noble compute the shared point.
    const server = sodium.crypto_kx_keypair();
    const c = await clientSessionKeys(client, server.publicKey);
    const s = await serverSessionKeys(server, client.publicKey);
    const q = x25519.getSharedSecret(server.privateKey, client.publicKey);
    const h = blake2b(new Uint8Array([...q, ...client.publicKey, ...server.publicKey]), {
      dkLen: 64,
    });
    expect(c.rx).toEqual(h.slice(0, 32));
    expect(c.tx).toEqual(h.slice(32, 64));
    expect(s.rx).toEqual(h.slice(32, 64));
    expect(s.tx).toEqual(h.slice(0, 32));
  });

  it('the private key is a non-extractable WebCrypto X25519 key', async () => {
    const { privateKey, publicKey } = await generateKxKeyPair();
    expect(publicKey).toHaveLength(32);
    if (privateKey instanceof Uint8Array) throw new Error('expected a CryptoKey');
    expect(privateKey.algorithm.name).toBe('X25519');
    expect(privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('pkcs8', privateKey)).rejects.toThrow();
  });

  it("agrees with libsodium's crypto_kx on both sides", async () => {
    const ours = await generateKxKeyPair();
    const theirs = sodium.crypto_kx_keypair();
    const asClient = await clientSessionKeys(ours, theirs.publicKey);
    const server = sodium.crypto_kx_server_session_keys(
      theirs.publicKey,
      theirs.privateKey,
      ours.publicKey,
    );
    expect(asClient).toEqual({ rx: server.sharedTx, tx: server.sharedRx });
    const asServer = await serverSessionKeys(ours, theirs.publicKey);
    const client = sodium.crypto_kx_client_session_keys(
      theirs.publicKey,
      theirs.privateKey,
      ours.publicKey,
    );
    expect(asServer).toEqual({ rx: client.sharedTx, tx: client.sharedRx });
  });

  it('rejects a peer key of the wrong size', async () => {
    const own = await generateKxKeyPair();
    await expect(clientSessionKeys(own, new Uint8Array(31))).rejects.toThrow(ZitiE2EError);
  });

  it('rejects a low-order peer key (all-zero shared point), as libsodium does', async () => {
    const own = await generateKxKeyPair();
    // The identity point and a point of order 8 (RFC 7748 test vectors of small order).
    const lowOrder = [
      new Uint8Array(32),
      Uint8Array.from(
        Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex'),
      ),
    ];
    for (const peer of lowOrder) {
      await expect(clientSessionKeys(own, peer)).rejects.toThrow(/bad peer key/);
      await expect(serverSessionKeys(sodium.crypto_kx_keypair(), peer)).rejects.toThrow(
        /bad peer key/,
      );
    }
  });
});

describe('secretstream interop with libsodium', () => {
  it('our client side → libsodium server (crypto_kx_server_session_keys + pull) and back', async () => {
    const ours = await generateKxKeyPair();
    const theirs = sodium.crypto_kx_keypair();
    const keys = await clientSessionKeys(ours, theirs.publicKey);
    const server = sodium.crypto_kx_server_session_keys(
      theirs.publicKey,
      theirs.privateKey,
      ours.publicKey,
    );

    // us → them
    const enc = new SecretStreamEncryptor(keys.tx);
    expect(enc.header).toHaveLength(SECRETSTREAM_HEADER_BYTES);
    const pull = sodium.crypto_secretstream_xchacha20poly1305_init_pull(
      enc.header,
      server.sharedRx,
    );
    for (const m of messages) {
      const c = enc.push(m);
      expect(c).toHaveLength(m.length + SECRETSTREAM_ABYTES);
      const out = sodium.crypto_secretstream_xchacha20poly1305_pull(pull, c, null);
      expect(out).not.toBe(false);
      if (out === false) return;
      expect(out.message).toEqual(m);
      expect(out.tag).toBe(TAG_MESSAGE);
    }

    // them → us
    const push = sodium.crypto_secretstream_xchacha20poly1305_init_push(server.sharedTx);
    const dec = new SecretStreamDecryptor(push.header, keys.rx);
    for (const m of messages) {
      const c = sodium.crypto_secretstream_xchacha20poly1305_push(push.state, m, null, TAG_MESSAGE);
      expect(dec.pull(c)).toEqual(m);
    }
  });

  it('our server side ← libsodium client (crypto_kx_client_session_keys) both ways', async () => {
    const ours = await generateKxKeyPair();
    const theirs = sodium.crypto_kx_keypair();
    const keys = await serverSessionKeys(ours, theirs.publicKey);
    const client = sodium.crypto_kx_client_session_keys(
      theirs.publicKey,
      theirs.privateKey,
      ours.publicKey,
    );

    const push = sodium.crypto_secretstream_xchacha20poly1305_init_push(client.sharedTx);
    const dec = new SecretStreamDecryptor(push.header, keys.rx);
    const enc = new SecretStreamEncryptor(keys.tx);
    const pull = sodium.crypto_secretstream_xchacha20poly1305_init_pull(
      enc.header,
      client.sharedRx,
    );
    for (const m of messages) {
      const c = sodium.crypto_secretstream_xchacha20poly1305_push(push.state, m, null, TAG_MESSAGE);
      expect(dec.pull(c)).toEqual(m);
      const back = sodium.crypto_secretstream_xchacha20poly1305_pull(pull, enc.push(m), null);
      if (!back) throw new Error('libsodium rejected our message');
      expect(back.message).toEqual(m);
    }
  });

  it('rejects tampered, truncated, replayed and reordered ciphertext', async () => {
    const client = await generateKxKeyPair();
    const server = await generateKxKeyPair();
    const c = await clientSessionKeys(client, server.publicKey);
    const s = await serverSessionKeys(server, client.publicKey);
    const fresh = () => {
      const enc = new SecretStreamEncryptor(c.tx);
      return { enc, dec: new SecretStreamDecryptor(enc.header, s.rx) };
    };
    for (const flip of [0, 1, 10, 16 + 17 - 1]) {
      const { enc, dec } = fresh();
      const ct = enc.push(new Uint8Array(16).fill(7));
      ct[flip]! ^= 1;
      expect(() => dec.pull(ct)).toThrow(ZitiE2EError);
    }
    {
      const { enc, dec } = fresh();
      expect(() => dec.pull(enc.push(new Uint8Array(4)).subarray(0, 16))).toThrow(ZitiE2EError);
    }
    {
      const { enc, dec } = fresh();
      const a = enc.push(Uint8Array.of(1));
      const b = enc.push(Uint8Array.of(2));
      expect(dec.pull(a)).toEqual(Uint8Array.of(1));
      expect(() => dec.pull(a)).toThrow(ZitiE2EError); // replay
      const { enc: enc2, dec: dec2 } = fresh();
      enc2.push(Uint8Array.of(1));
      expect(() => dec2.pull(enc2.push(Uint8Array.of(2)))).toThrow(ZitiE2EError); // skipped one
      expect(b).toHaveLength(18);
    }
    // wrong key: a stranger's header
    const stranger = new SecretStreamEncryptor(new Uint8Array(32).fill(1));
    const dec = new SecretStreamDecryptor(stranger.header, s.rx);
    expect(() => dec.pull(stranger.push(Uint8Array.of(1)))).toThrow(ZitiE2EError);
  });

  it('a peer header that is not exactly 24 bytes is refused', async () => {
    const keys = await clientSessionKeys(
      await generateKxKeyPair(),
      (await generateKxKeyPair()).publicKey,
    );
    expect(() => new SecretStreamDecryptor(new Uint8Array(23), keys.rx)).toThrow(ZitiE2EError);
    expect(() => new SecretStreamDecryptor(new Uint8Array(41), keys.rx)).toThrow(ZitiE2EError);
  });
});
