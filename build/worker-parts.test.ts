import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltPart, buildWorkerParts, PARTS_DIR, partStandIn } from './worker-parts.ts';

describe("the service worker's parts", () => {
  const out = mkdtempSync(join(tmpdir(), 'zt-parts-'));
  let parts: BuiltPart[];

  beforeAll(async () => {
    parts = await buildWorkerParts(out);
  }, 60_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('are classic scripts named by their content, each assigning its library to one global', () => {
    expect(parts.map((p) => p.name)).toEqual(['cookies', 'oauth']);
    const files = readdirSync(join(out, PARTS_DIR)).filter((f) => f.endsWith('.js'));
    expect(files.sort()).toEqual(parts.map((p) => p.url.split('/').at(-1)).sort());
    for (const part of parts) {
      expect(part.url).toMatch(new RegExp(`^/${PARTS_DIR}/${part.name}\\.[0-9a-f]{16}\\.js$`));
      const code = readFileSync(join(out, part.url), 'utf8');
      expect(code).not.toMatch(/^\s*(import|export)\s/m); // no module syntax: importScripts runs it
    }
  });

  it("carry the library's browser exports: the cookie part answers public suffix questions", () => {
    const cookies = parts.find((p) => p.name === 'cookies')!;
    expect(cookies.exports).toEqual(expect.arrayContaining(['CookieJar', 'getPublicSuffix']));
    const scope: Record<string, unknown> = { URL, TextEncoder, TextDecoder, console };
    scope.self = scope;
    runInNewContext(readFileSync(join(out, cookies.url), 'utf8'), scope);
    const lib = scope[cookies.global] as { getPublicSuffix: (domain: string) => string | null };
    expect(lib.getPublicSuffix('www.example.co.uk')).toBe('example.co.uk');
    expect(parts.find((p) => p.name === 'oauth')!.exports).toEqual(
      expect.arrayContaining(['refreshTokenGrantRequest', 'processRefreshTokenResponse']),
    );
  });

  it('stand in for their library inside sw.js with the same named exports', () => {
    const code = partStandIn(
      { name: 'x', module: 'lib', url: '/u', global: 'g', exports: ['a', 'default', 'b$'] },
      '/sw/worker-parts.ts',
    );
    expect(code).toContain('import { importPart as __ztImportPart } from "/sw/worker-parts.ts";');
    expect(code).toContain('const __ztPart = __ztImportPart("x");');
    expect(code).toContain('export const a = __ztPart["a"];');
    expect(code).toContain('export const b$ = __ztPart["b$"];');
    expect(code).toContain('export default __ztPart.default;');
    expect(() =>
      partStandIn({ name: 'x', module: 'lib', url: '/u', global: 'g', exports: ['a-b'] }, '/m'),
    ).toThrow(/lib exports "a-b"/);
  });
});
