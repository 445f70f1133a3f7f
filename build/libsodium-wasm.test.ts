import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { libsodiumModulePath, libsodiumWasm, withoutEmbeddedWasm } from './libsodium-wasm.ts';

describe("libsodium's embedded WebAssembly", () => {
  const code = readFileSync(libsodiumModulePath(), 'utf8');

  it('is cut out of its script whole: a valid module, and a script about 300 KB smaller', () => {
    const wasm = libsodiumWasm(code);
    expect(WebAssembly.validate(wasm)).toBe(true);
    expect(wasm.length).toBeGreaterThan(100_000);
    const stripped = withoutEmbeddedWasm(code);
    expect(code.length - stripped.length).toBeGreaterThan((wasm.length * 4) / 3 - 10);
    expect(stripped).not.toMatch(/AGFzbQ/);
  });

  it('refuses a script that does not hold exactly one module (a changed libsodium)', () => {
    expect(() => withoutEmbeddedWasm('export default 1;')).toThrow(/found 0/);
    const literal = code.match(/"AGFzbQ[^"]+"/)![0];
    expect(() => libsodiumWasm(`${literal};${literal}`)).toThrow(/found 2/);
  });
});
