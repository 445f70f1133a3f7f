import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CookieJar, type CookieJarStore } from './cookie-jar.ts';

function memoryStore(): CookieJarStore & { data: Map<string, unknown>; writes: number } {
  const data = new Map<string, unknown>();
  const s = {
    data,
    writes: 0,
    get: async (k: string) => data.get(k),
    set: async (k: string, v: unknown) => {
      s.writes++;
      data.set(k, v);
    },
  };
  return s;
}

const APP = 'https://chat.example.com/';
const DEV = 'http://localhost:8080/';

describe('CookieJar', () => {
  it('sends HttpOnly cookies on requests but hides them from document.cookie', async () => {
    const jar = await CookieJar.open(memoryStore());
    await jar.setFromResponse(APP, [
      'MMAUTHTOKEN=secret; Path=/; HttpOnly; Secure; SameSite=Lax',
      'MMUSERID=u1; Path=/; Secure',
      'MMCSRF=c1; Path=/; Secure',
    ]);
    expect(await jar.cookieHeader(`${APP}api/v4/users/me`)).toBe(
      'MMAUTHTOKEN=secret; MMUSERID=u1; MMCSRF=c1',
    );
    expect(await jar.documentCookie(APP)).toBe('MMUSERID=u1; MMCSRF=c1');
  });

  it('honours Path, Domain and host-only scoping', async () => {
    const jar = await CookieJar.open(memoryStore());
    await jar.setFromResponse('https://chat.example.com/api/x', [
      'a=1; Path=/api',
      'b=2',
      'c=3; Domain=example.com; Path=/',
      'd=4; Domain=other.com',
      'e=5; Domain=com',
    ]);
    expect(await jar.cookieHeader('https://chat.example.com/api/v4')).toBe('a=1; b=2; c=3');
    expect(await jar.cookieHeader('https://chat.example.com/')).toBe('c=3');
    expect(await jar.cookieHeader('https://other.example.com/api/x')).toBe('c=3');
    expect(await jar.cookieHeader('https://other.com/')).toBe('');
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('honours Max-Age, Expires and deletion', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
    const jar = await CookieJar.open(memoryStore());
    await jar.setFromResponse(APP, [
      'short=1; Max-Age=60',
      'long=2; Expires=Wed, 01 Jan 2031 00:00:00 GMT',
      'gone=3',
    ]);
    expect(await jar.cookieHeader(APP)).toBe('short=1; long=2; gone=3');
    await jar.setFromResponse(APP, ['gone=; Max-Age=0']);
    expect(await jar.cookieHeader(APP)).toBe('short=1; long=2');
    // Reading does not extend a Max-Age cookie's life (it counts from reception).
    vi.setSystemTime(new Date('2026-01-01T00:00:50Z'));
    expect(await jar.cookieHeader(APP)).toBe('short=1; long=2');
    vi.setSystemTime(new Date('2026-01-01T00:01:01Z'));
    expect(await jar.cookieHeader(APP)).toBe('long=2');
    await jar.setFromResponse(APP, ['long=; Expires=Thu, 01 Jan 1970 00:00:00 GMT']);
    expect(await jar.cookieHeader(APP)).toBe('');
  });

  it('treats http://localhost as a secure context, and plain http hosts as not', async () => {
    const jar = await CookieJar.open(memoryStore());
    await jar.setFromResponse(DEV, ['s=1; Secure; HttpOnly', '__Host-h=2; Secure; Path=/']);
    expect(await jar.cookieHeader(DEV)).toBe('s=1; __Host-h=2');
    await jar.setFromResponse('http://chat.example.com/', ['s=1; Secure']);
    expect(await jar.cookieHeader('http://chat.example.com/')).toBe('');
    // A secure cookie set over https is not sent over plain http.
    await jar.setFromResponse(APP, ['t=1; Secure']);
    expect(await jar.cookieHeader('http://chat.example.com/')).toBe('');
  });

  it('rejects __Host- cookies that break their prefix rules', async () => {
    const jar = await CookieJar.open(memoryStore());
    await jar.setFromResponse(APP, [
      '__Host-a=1; Secure; Path=/; Domain=example.com',
      '__Secure-b=2',
      '__Host-ok=3; Secure; Path=/',
    ]);
    expect(await jar.cookieHeader(APP)).toBe('__Host-ok=3');
  });

  it('applies document.cookie writes, but never over or as HttpOnly', async () => {
    const jar = await CookieJar.open(memoryStore());
    await jar.setFromResponse(APP, ['session=s; HttpOnly']);
    expect(await jar.setFromDocument(APP, 'theme=dark; path=/')).toBe(true);
    expect(await jar.setFromDocument(APP, 'session=stolen')).toBe(false);
    expect(await jar.setFromDocument(APP, 'sneaky=1; HttpOnly')).toBe(false);
    expect(await jar.documentCookie(APP)).toBe('theme=dark');
    expect(await jar.cookieHeader(APP)).toBe('session=s; theme=dark');
    expect(await jar.setFromDocument(APP, 'theme=; max-age=0')).toBe(true);
    expect(await jar.documentCookie(APP)).toBe('');
  });

  it('applies SameSite when the caller gives a cross-site context', async () => {
    const jar = await CookieJar.open(memoryStore());
    await jar.setFromResponse(APP, [
      'strict=1; SameSite=Strict',
      'lax=2; SameSite=Lax',
      'none=3; SameSite=None; Secure',
    ]);
    expect(await jar.cookieHeader(APP)).toBe('strict=1; lax=2; none=3');
    expect(await jar.cookieHeader(APP, 'lax')).toBe('lax=2; none=3');
    expect(await jar.cookieHeader(APP, 'none')).toBe('none=3');
  });

  it('persists every change and comes back from the store', async () => {
    const store = memoryStore();
    const jar = await CookieJar.open(store);
    await jar.setFromResponse(APP, ['a=1; HttpOnly; Max-Age=3600', 'b=2']);
    await jar.setFromDocument(APP, 'c=3');
    expect(store.writes).toBe(2);
    const again = await CookieJar.open(store);
    expect(await again.cookieHeader(APP)).toBe('a=1; b=2; c=3');
    expect(await again.documentCookie(APP)).toBe('b=2; c=3');
    await again.clear();
    expect(await (await CookieJar.open(store)).cookieHeader(APP)).toBe('');
  });

  it('survives a corrupt store entry', async () => {
    const store = memoryStore();
    store.data.set('zt-cookie-jar', '{not json');
    const jar = await CookieJar.open(store);
    expect(await jar.cookieHeader(APP)).toBe('');
    store.data.set('zt-cookie-jar', JSON.stringify({ cookies: [{ nonsense: true }, 5] }));
    expect(await (await CookieJar.open(store)).cookieHeader(APP)).toBe('');
  });

  it('ignores malformed Set-Cookie fields without failing', async () => {
    const jar = await CookieJar.open(memoryStore());
    await jar.setFromResponse(APP, ['', '=novalue', ';;;', 'ok=1']);
    expect(await jar.cookieHeader(APP)).toBe('ok=1');
  });

  it('uses only Web APIs: tough-cookie and tldts import no Node built-ins', () => {
    const require = createRequire(import.meta.url);
    const files = [
      require.resolve('tough-cookie').replace(/index\.cjs$/, 'index.js'),
      join(dirname(require.resolve('tldts/package.json')), 'dist/es6/index.js'),
    ];
    for (const f of files) {
      const src = readFileSync(f, 'utf8');
      const imports = [...src.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map(
        (m) => m[1]!,
      );
      const bare = imports.filter((i) => !i.startsWith('.'));
      expect(
        bare.every((i) => i === 'tldts' || i === 'tldts-core'),
        `${f}: ${bare.join(', ')}`,
      ).toBe(true);
      expect(src).not.toMatch(/require\(["'](node:|fs|path|util|url|punycode)/);
    }
  });
});
