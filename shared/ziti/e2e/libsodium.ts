/// <reference path="./libsodium-module.d.ts" />
/**
 * The few libsodium functions the edge needs, called on libsodium's WebAssembly exports directly:
 * BLAKE2b (`crypto_generichash`), `crypto_secretstream_xchacha20poly1305`, and crypto_kx's key pair
 * and X25519 for engines without WebCrypto X25519.
 *
 * Why not libsodium-wrappers: its module evaluation walks some 300 functions, it copies every
 * message into a fresh allocation and out again, and it has no way to take the WebAssembly from
 * anywhere but the base64 inside the script. Here a caller may say where the module comes from
 * (`useSodiumWasm`): the service worker takes it from its precache, compiled while it streams in,
 * instead of decoding 300 KB of base64 in its script at every start. Without a source, libsodium's
 * own embedded copy is used (Node, tests).
 *
 * 64-bit lengths are passed as two 32-bit halves (libsodium.js is built without BigInt), the high
 * half always 0 here: no message is near 4 GiB.
 */
import createLibsodium from 'libsodium';
import { ZitiE2EError } from '../errors.ts';

/** The exports this module calls (names as libsodium.js exposes them). */
export interface LibsodiumModule {
  HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _sodium_init(): number;
  _crypto_generichash(
    out: number,
    outLen: number,
    input: number,
    inLenLo: number,
    inLenHi: number,
    key: number,
    keyLen: number,
  ): number;
  _crypto_kx_keypair(pk: number, sk: number): number;
  _crypto_scalarmult(q: number, n: number, p: number): number;
  _crypto_secretstream_xchacha20poly1305_init_push(
    state: number,
    header: number,
    key: number,
  ): number;
  _crypto_secretstream_xchacha20poly1305_init_pull(
    state: number,
    header: number,
    key: number,
  ): number;
  _crypto_secretstream_xchacha20poly1305_push(
    state: number,
    c: number,
    cLenP: number,
    m: number,
    mLenLo: number,
    mLenHi: number,
    ad: number,
    adLenLo: number,
    adLenHi: number,
    tag: number,
  ): number;
  _crypto_secretstream_xchacha20poly1305_pull(
    state: number,
    m: number,
    mLenP: number,
    tagP: number,
    c: number,
    cLenLo: number,
    cLenHi: number,
    ad: number,
    adLenLo: number,
    adLenHi: number,
  ): number;
}

/** Bytes of a secretstream state (crypto_secretstream_xchacha20poly1305_statebytes). */
const STATE_BYTES = 52;
/** Header size of secretstream: the peer's first Data must be exactly this long. */
export const SECRETSTREAM_HEADER_BYTES = 24;
/** Bytes a push adds to the plaintext (tag byte + MAC). */
export const SECRETSTREAM_ABYTES = 17;
const KEY_BYTES = 32;
const TAG_MESSAGE = 0;

/** Where the WebAssembly comes from; set before the first `sodiumReady()`. */
let wasmSource: (() => Promise<Response>) | undefined;
let loading: Promise<LibsodiumModule> | undefined;
let lib: LibsodiumModule | undefined;

/**
 * Takes libsodium's WebAssembly from `source` (a `Response` of `application/wasm`, compiled as it
 * streams in) instead of the copy embedded in its script. Call before the first `sodiumReady()`.
 */
export function useSodiumWasm(source: () => Promise<Response>): void {
  if (loading) throw new Error('useSodiumWasm() after libsodium was loaded');
  wasmSource = source;
}

/**
 * Resolves once libsodium is initialised; rejects with a ZitiE2EError when it cannot load. A failed
 * load is tried again at the next call (the file may have been unreachable for a moment).
 */
export function sodiumReady(): Promise<LibsodiumModule> {
  if (loading) return loading;
  const attempt = load().then(
    (mod) => {
      if (mod._sodium_init() < 0) throw new ZitiE2EError('libsodium failed to initialise');
      lib = mod;
      return mod;
    },
    (cause: unknown) => {
      if (loading === attempt) loading = undefined;
      throw cause instanceof ZitiE2EError
        ? cause
        : new ZitiE2EError('libsodium could not be loaded', { cause });
    },
  );
  loading = attempt;
  return attempt;
}

/** The loaded module: the secretstream classes need `await sodiumReady()` first. */
function loaded(): LibsodiumModule {
  if (!lib) throw new ZitiE2EError('libsodium is not loaded yet (await e2eReady() first)');
  return lib;
}

function getRandomValue(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

async function load(): Promise<LibsodiumModule> {
  const source = wasmSource;
  if (!source) return (await createLibsodium({ getRandomValue })) as LibsodiumModule;
  // libsodium's factory waits forever when `instantiateWasm` fails: the failure races it here.
  let fail!: (err: unknown) => void;
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  const created = createLibsodium({
    getRandomValue,
    instantiateWasm(
      imports: WebAssembly.Imports,
      done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
    ) {
      instantiate(source, imports).then(({ instance, module }) => done(instance, module), fail);
      return {};
    },
  }) as Promise<LibsodiumModule>;
  return Promise.race([created, failed]);
}

async function instantiate(
  source: () => Promise<Response>,
  imports: WebAssembly.Imports,
): Promise<WebAssembly.WebAssemblyInstantiatedSource> {
  const response = await source();
  if (!response.ok) {
    throw new ZitiE2EError(
      `libsodium's WebAssembly could not be fetched (HTTP ${response.status})`,
    );
  }
  // Streaming compiles while the bytes arrive (and lets browsers cache the compiled code); it needs
  // the right media type, which a misconfigured server may not send.
  const type = response.headers.get('content-type') ?? '';
  if (type.split(';')[0]!.trim().toLowerCase() === 'application/wasm') {
    return WebAssembly.instantiateStreaming(response, imports);
  }
  return WebAssembly.instantiate(await response.arrayBuffer(), imports);
}

/**
 * One reusable region of the WebAssembly heap for a call's input and output, grown when a message
 * needs more: calls are synchronous, so one region serves them all without a malloc per message.
 */
let scratchPtr = 0;
let scratchSize = 0;
function scratch(mod: LibsodiumModule, size: number): number {
  if (size > scratchSize) {
    if (scratchPtr) mod._free(scratchPtr);
    scratchSize = Math.max(size, 2 * scratchSize, 64 * 1024);
    scratchPtr = mod._malloc(scratchSize);
    if (!scratchPtr) {
      scratchSize = 0;
      throw new ZitiE2EError(`libsodium could not allocate ${size} bytes`);
    }
  }
  return scratchPtr;
}

/** Copies `bytes` to `ptr`, runs `fn`, and zeroes the copy (keys are among them). */
function withSecret<T>(mod: LibsodiumModule, bytes: Uint8Array, fn: (ptr: number) => T): T {
  const ptr = mod._malloc(bytes.length);
  if (!ptr) throw new ZitiE2EError('libsodium could not allocate a key');
  mod.HEAPU8.set(bytes, ptr);
  try {
    return fn(ptr);
  } finally {
    mod.HEAPU8.fill(0, ptr, ptr + bytes.length);
    mod._free(ptr);
  }
}

/** BLAKE2b with a `outLen`-byte digest and no key. */
export function blake2b(outLen: number, input: Uint8Array): Uint8Array {
  const mod = loaded();
  return withSecret(mod, input, (inPtr) => {
    const out = scratch(mod, outLen);
    if (mod._crypto_generichash(out, outLen, inPtr, input.length, 0, 0, 0) !== 0) {
      throw new ZitiE2EError('BLAKE2b failed');
    }
    const digest = mod.HEAPU8.slice(out, out + outLen);
    mod.HEAPU8.fill(0, out, out + outLen);
    return digest;
  });
}

/** A crypto_kx key pair as raw bytes (only where WebCrypto has no X25519). */
export function kxKeyPair(): { publicKey: Uint8Array; privateKey: Uint8Array } {
  const mod = loaded();
  const pk = scratch(mod, 64);
  const sk = pk + 32;
  if (mod._crypto_kx_keypair(pk, sk) !== 0) throw new ZitiE2EError('crypto_kx_keypair failed');
  const publicKey = mod.HEAPU8.slice(pk, pk + 32);
  const privateKey = mod.HEAPU8.slice(sk, sk + 32);
  mod.HEAPU8.fill(0, pk, pk + 64);
  return { publicKey, privateKey };
}

/** X25519(secret, peer); throws on a low-order peer key, as libsodium does. */
export function scalarmult(secret: Uint8Array, peer: Uint8Array): Uint8Array {
  const mod = loaded();
  const input = new Uint8Array(64);
  input.set(secret, 0);
  input.set(peer, 32);
  try {
    return withSecret(mod, input, (n) => {
      const q = scratch(mod, 32);
      if (mod._crypto_scalarmult(q, n, n + 32) !== 0) throw new ZitiE2EError('weak public key');
      const out = mod.HEAPU8.slice(q, q + 32);
      mod.HEAPU8.fill(0, q, q + 32);
      return out;
    });
  } finally {
    input.fill(0);
  }
}

/** A secretstream state in the WebAssembly heap; `dispose()` zeroes and frees it. */
class StreamState {
  protected readonly mod: LibsodiumModule;
  #ptr: number;
  constructor(mod: LibsodiumModule) {
    this.mod = mod;
    this.#ptr = mod._malloc(STATE_BYTES);
    if (!this.#ptr) throw new ZitiE2EError('libsodium could not allocate a stream state');
  }
  protected get ptr(): number {
    if (!this.#ptr) throw new ZitiE2EError('secretstream used after it was disposed');
    return this.#ptr;
  }
  /** Zeroes and frees the state (it holds the stream's key). Idempotent. */
  dispose(): void {
    if (!this.#ptr) return;
    this.mod.HEAPU8.fill(0, this.#ptr, this.#ptr + STATE_BYTES);
    this.mod._free(this.#ptr);
    this.#ptr = 0;
  }
}

/** Our sending half: `header` goes alone in the first Data; `push` seals each later Data body. */
export class SecretStreamEncryptor extends StreamState {
  readonly header: Uint8Array;
  constructor(key: Uint8Array) {
    if (key.length !== KEY_BYTES) throw new ZitiE2EError('secretstream key must have 32 bytes');
    super(loaded());
    const mod = this.mod;
    try {
      this.header = withSecret(mod, key, (k) => {
        const header = scratch(mod, SECRETSTREAM_HEADER_BYTES);
        if (mod._crypto_secretstream_xchacha20poly1305_init_push(this.ptr, header, k) !== 0) {
          throw new ZitiE2EError('secretstream init_push failed');
        }
        return mod.HEAPU8.slice(header, header + SECRETSTREAM_HEADER_BYTES);
      });
    } catch (err) {
      this.dispose(); // as the receiving half does: a failed stream keeps no state behind
      throw err;
    }
  }
  /** Seals one Data body into a buffer of its own. */
  push(message: Uint8Array): Uint8Array {
    const c = this.#seal(message);
    return this.mod.HEAPU8.slice(c, c + message.length + SECRETSTREAM_ABYTES);
  }

  /**
   * Seals one Data body into a buffer of this encryptor that the next push overwrites: for a
   * sender done with each body before it seals the next (its write resolved once the bytes were
   * copied). A new 32 KiB buffer per body costs the browser 30 to 50 µs to fill (Chromium; first
   * touch of new memory), the same buffer about 1.
   */
  pushTransient(message: Uint8Array): Uint8Array {
    const c = this.#seal(message);
    const n = message.length + SECRETSTREAM_ABYTES;
    // Placed like its source modulo 64: a copy a few bytes past its source modulo 4 KiB is 20
    // times slower on x86 (4K aliasing, bench/README.md).
    const at = c & 63;
    if (this.#out.length < at + n) this.#out = new Uint8Array(64 + Math.max(n, 64 * 1024));
    const out = this.#out.subarray(at, at + n);
    out.set(this.mod.HEAPU8.subarray(c, c + n));
    return out;
  }

  #out = new Uint8Array(0);

  /** Seals `message` in the WebAssembly heap; returns where the sealed bytes start. */
  #seal(message: Uint8Array): number {
    const mod = this.mod;
    const state = this.ptr;
    const m = scratch(mod, 2 * message.length + SECRETSTREAM_ABYTES);
    const c = m + message.length;
    mod.HEAPU8.set(message, m);
    const rc = mod._crypto_secretstream_xchacha20poly1305_push(
      state,
      c,
      0,
      m,
      message.length,
      0,
      0,
      0,
      0,
      TAG_MESSAGE,
    );
    if (rc !== 0) throw new ZitiE2EError('secretstream push failed');
    return c;
  }
}

/** The receiving half, made from the peer's 24-byte header. */
export class SecretStreamDecryptor extends StreamState {
  constructor(header: Uint8Array, key: Uint8Array) {
    if (header.length !== SECRETSTREAM_HEADER_BYTES) {
      throw new ZitiE2EError(`peer stream header has ${header.length} bytes, expected 24`);
    }
    if (key.length !== KEY_BYTES) throw new ZitiE2EError('secretstream key must have 32 bytes');
    super(loaded());
    const mod = this.mod;
    const input = new Uint8Array(SECRETSTREAM_HEADER_BYTES + KEY_BYTES);
    input.set(header, 0);
    input.set(key, SECRETSTREAM_HEADER_BYTES);
    try {
      withSecret(mod, input, (h) => {
        if (
          mod._crypto_secretstream_xchacha20poly1305_init_pull(
            this.ptr,
            h,
            h + SECRETSTREAM_HEADER_BYTES,
          ) !== 0
        ) {
          throw new ZitiE2EError('secretstream init_pull failed');
        }
      });
    } catch (err) {
      this.dispose();
      throw err;
    } finally {
      input.fill(0);
    }
  }
  /**
   * Opens one Data body, given whole or as the pieces it arrived in (each is copied into the
   * WebAssembly heap, so joining them first would only add a copy). The tag is ignored, as the C
   * SDK does.
   */
  pull(cipher: Uint8Array | readonly Uint8Array[]): Uint8Array {
    const pieces = cipher instanceof Uint8Array ? [cipher] : cipher;
    let cLen = 0;
    for (const piece of pieces) cLen += piece.length;
    if (cLen < SECRETSTREAM_ABYTES) throw new ZitiE2EError('encrypted message too short');
    const mod = this.mod;
    const state = this.ptr;
    const mLen = cLen - SECRETSTREAM_ABYTES;
    const c = scratch(mod, cLen + mLen + 1);
    const m = c + cLen;
    const tag = m + mLen;
    const heap = mod.HEAPU8;
    let at = c;
    for (const piece of pieces) {
      heap.set(piece, at);
      at += piece.length;
    }
    const rc = mod._crypto_secretstream_xchacha20poly1305_pull(
      state,
      m,
      0,
      tag,
      c,
      cLen,
      0,
      0,
      0,
      0,
    );
    if (rc !== 0) throw new ZitiE2EError('encrypted message failed authentication');
    return mod.HEAPU8.slice(m, m + mLen);
  }
}
