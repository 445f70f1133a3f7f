/// <reference lib="webworker" />
/**
 * libsodium's WebAssembly for this worker, a file of its own rather than base64 inside `sw.js`: the
 * precache holds it (fetched at install and checked against the hash this build saw), and a worker
 * that starts before the precache is filled fetches it from our origin with that hash as the
 * request's integrity. Either way the bytes the worker runs are the build's.
 */
import { fromPrecache, precacheEntries } from './precache.ts';

declare const __ZT_SODIUM_WASM__: string | undefined;

export async function sodiumWasm(): Promise<Response> {
  const url = typeof __ZT_SODIUM_WASM__ !== 'undefined' ? __ZT_SODIUM_WASM__ : undefined;
  const entry = precacheEntries.find((e) => typeof e !== 'string' && e.url === url);
  if (!url || typeof entry !== 'object' || !entry.integrity) {
    throw new Error('this build lists no libsodium WebAssembly with its hash');
  }
  return (await fromPrecache(url)) ?? fetch(url, { integrity: entry.integrity });
}
