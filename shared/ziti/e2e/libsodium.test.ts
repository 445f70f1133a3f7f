/**
 * libsodium's WebAssembly taken from a `Response` (as the service worker does) instead of its
 * embedded copy, checked against libsodium-wrappers as an independent peer; and the failures a
 * worker must report instead of waiting forever.
 */
import sodium from 'libsodium-wrappers';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { libsodiumWasm } from '../../../build/libsodium-wasm.ts';

type Lib = typeof import('./libsodium.ts');
const wasm = libsodiumWasm();

/** A fresh copy of the module (its loader state is per module instance). */
async function freshLib(): Promise<Lib> {
  vi.resetModules();
  return import('./libsodium.ts');
}

const wasmResponse = (type: string, body: BodyInit = wasm.slice()) =>
  new Response(body, { headers: { 'content-type': type } });

beforeAll(async () => {
  await sodium.ready;
});

describe('libsodium from a WebAssembly file', () => {
  let lib: Lib;
  beforeEach(async () => {
    lib = await freshLib();
  });

  for (const type of ['application/wasm', 'application/octet-stream']) {
    it(`loads a ${type} response and speaks secretstream with libsodium-wrappers`, async () => {
      const source = vi.fn(async () => wasmResponse(type));
      lib.useSodiumWasm(source);
      await lib.sodiumReady();
      expect(source).toHaveBeenCalledTimes(1);

      const key = sodium.crypto_secretstream_xchacha20poly1305_keygen();
      const push = new lib.SecretStreamEncryptor(key);
      const theirPull = sodium.crypto_secretstream_xchacha20poly1305_init_pull(push.header, key);
      const theirs = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
      const pull = new lib.SecretStreamDecryptor(theirs.header, key);
      // Past the first scratch region (64 KiB) and back: the region grows and is reused.
      for (const size of [0, 1, 32_751, 200_000, 3]) {
        const message = Uint8Array.from({ length: size }, (_, i) => (i * 13 + size) & 0xff);
        const out = sodium.crypto_secretstream_xchacha20poly1305_pull(
          theirPull,
          push.push(message),
          null,
        );
        if (!out) throw new Error('libsodium-wrappers refused our message');
        expect(out.message).toEqual(message);
        const sealed = sodium.crypto_secretstream_xchacha20poly1305_push(
          theirs.state,
          message,
          null,
          sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
        );
        expect(pull.pull(sealed)).toEqual(message);
      }
      expect(lib.blake2b(64, new Uint8Array([1, 2, 3]))).toEqual(
        sodium.crypto_generichash(64, new Uint8Array([1, 2, 3]), null),
      );
    });
  }

  it('is refused after useSodiumWasm() came too late', async () => {
    await lib.sodiumReady();
    expect(() => lib.useSodiumWasm(async () => wasmResponse('application/wasm'))).toThrow(
      /after libsodium was loaded/,
    );
  });

  it('reports a file that cannot be fetched instead of waiting', async () => {
    lib.useSodiumWasm(async () => new Response('not found', { status: 404 }));
    await expect(lib.sodiumReady()).rejects.toMatchObject({
      code: 'ERR_ZITI_E2E',
      message: expect.stringMatching(/HTTP 404/),
    });
  });

  it('reports bytes that are not the module (an HTML page served in its place)', async () => {
    lib.useSodiumWasm(async () => wasmResponse('text/html', '<!doctype html><p>sign in</p>'));
    await expect(lib.sodiumReady()).rejects.toMatchObject({
      code: 'ERR_ZITI_E2E',
      message: 'libsodium could not be loaded',
    });
  });

  it('reports a source that throws (offline), and tries again at the next call', async () => {
    let online = false;
    lib.useSodiumWasm(async () => {
      if (!online) throw new TypeError('Failed to fetch');
      return wasmResponse('application/wasm');
    });
    await expect(lib.sodiumReady()).rejects.toMatchObject({ code: 'ERR_ZITI_E2E' });
    online = true;
    await lib.sodiumReady();
    expect(lib.blake2b(32, new Uint8Array(0))).toHaveLength(32);
  });
});

describe('secretstream states', () => {
  let lib: Lib;
  beforeAll(async () => {
    lib = await freshLib();
    await lib.sodiumReady();
  });

  it('are unusable once disposed (their key is gone)', () => {
    const key = sodium.crypto_secretstream_xchacha20poly1305_keygen();
    const push = new lib.SecretStreamEncryptor(key);
    const pull = new lib.SecretStreamDecryptor(push.header, key);
    const sealed = push.push(new Uint8Array([1]));
    push.dispose();
    pull.dispose();
    pull.dispose(); // idempotent
    expect(() => push.push(new Uint8Array([2]))).toThrow(/used after it was disposed/);
    expect(() => pull.pull(sealed)).toThrow(/used after it was disposed/);
  });

  it('refuse bad keys, headers, short and forged messages with E2E errors', () => {
    const key = sodium.crypto_secretstream_xchacha20poly1305_keygen();
    expect(() => new lib.SecretStreamEncryptor(key.subarray(1))).toThrow(/32 bytes/);
    expect(() => new lib.SecretStreamDecryptor(new Uint8Array(23), key)).toThrow(/23 bytes/);
    const push = new lib.SecretStreamEncryptor(key);
    const pull = new lib.SecretStreamDecryptor(push.header, key);
    expect(() => pull.pull(new Uint8Array(16))).toThrow(/too short/);
    const sealed = push.push(new Uint8Array([1, 2, 3]));
    sealed[5]! ^= 1;
    expect(() => pull.pull(sealed)).toThrow(/failed authentication/);
  });

  it('open a message from the pieces it arrived in, split anywhere, as if it were whole', () => {
    const key = sodium.crypto_secretstream_xchacha20poly1305_keygen();
    const push = new lib.SecretStreamEncryptor(key);
    const pull = new lib.SecretStreamDecryptor(push.header, key);
    const message = Uint8Array.from({ length: 40_000 }, (_, i) => (i * 7) & 0xff);
    for (const cuts of [[], [1], [16_384, 32_768], [39_990, 40_000, 40_016]]) {
      const sealed = push.push(message);
      const bounds = [0, ...cuts, sealed.length];
      const pieces = bounds.slice(1).map((end, i) => sealed.subarray(bounds[i]!, end));
      expect(pull.pull(pieces)).toEqual(message);
    }
    // Pieces too short together, and a forged byte in a later piece, are refused as whole ones are.
    expect(() => pull.pull([new Uint8Array(8), new Uint8Array(8)])).toThrow(/too short/);
    const sealed = push.push(message);
    sealed[sealed.length - 3]! ^= 1;
    expect(() => pull.pull([sealed.subarray(0, 100), sealed.subarray(100)])).toThrow(
      /failed authentication/,
    );
  });

  it('seal into one reused buffer with pushTransient, opening as push does', () => {
    const key = sodium.crypto_secretstream_xchacha20poly1305_keygen();
    const push = new lib.SecretStreamEncryptor(key);
    const pull = new lib.SecretStreamDecryptor(push.header, key);
    const messages = [40_000, 3, 32_751, 0, 70_000].map((n, k) =>
      Uint8Array.from({ length: n }, (_, i) => (i * 7 + k) & 0xff),
    );
    const buffers = new Set<ArrayBufferLike>();
    for (const [k, message] of messages.entries()) {
      // Either kind of push continues the same stream.
      const sealed = k === 1 ? push.push(message) : push.pushTransient(message);
      if (k !== 1) buffers.add(sealed.buffer);
      expect(sealed.length).toBe(message.length + 17);
      expect(pull.pull(sealed)).toEqual(message);
    }
    // One buffer until a message outgrew it (70 000 bytes is more than its first 64 KiB).
    expect(buffers.size).toBe(2);
    const first = push.pushTransient(messages[0]!);
    const copy = first.slice();
    push.pushTransient(messages[2]!);
    expect(first).not.toEqual(copy); // overwritten by the next: the caller must be done with it
  });

  it('X25519 refuses a low-order point, as libsodium does', () => {
    const { privateKey } = lib.kxKeyPair();
    expect(() => lib.scalarmult(privateKey, new Uint8Array(32))).toThrow(/weak public key/);
  });
});
