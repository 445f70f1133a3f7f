/**
 * libsodium.js ships its WebAssembly as a base64 string inside its script. The service worker takes
 * it from a file of its own instead (precached, compiled as it streams in, cached compiled by the
 * browser): these helpers cut it out at build time.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The one base64 literal that is a WebAssembly module ("\0asm" is "AGFzbQ" in base64). */
const WASM_LITERAL = /"(AGFzbQ[A-Za-z0-9+/]+={0,2})"/g;

/** Path of libsodium's ES module (the build the bundler resolves for `import 'libsodium'`). */
export function libsodiumModulePath(): string {
  const require = createRequire(import.meta.url);
  return require
    .resolve('libsodium')
    .replace(/modules[/\\]libsodium\.js$/, 'modules-esm/libsodium.mjs');
}

function theLiteral(code: string): RegExpExecArray {
  const found = [...code.matchAll(WASM_LITERAL)];
  if (found.length !== 1) {
    throw new Error(
      `expected one embedded WebAssembly module in libsodium's script, found ${found.length}: ` +
        'has libsodium changed how it embeds it?',
    );
  }
  return found[0]!;
}

/** libsodium's WebAssembly module, as bytes. */
export function libsodiumWasm(
  code = readFileSync(libsodiumModulePath(), 'utf8'),
): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(Buffer.from(theLiteral(code)[1]!, 'base64'));
  if (!WebAssembly.validate(bytes)) throw new Error("libsodium's embedded WebAssembly is invalid");
  return bytes;
}

/** libsodium's script without its embedded module: only usable with `instantiateWasm`. */
export function withoutEmbeddedWasm(code: string): string {
  const literal = theLiteral(code);
  return `${code.slice(0, literal.index)}""${code.slice(literal.index + literal[0].length)}`;
}
