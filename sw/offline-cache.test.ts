import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  APP_CACHE,
  type CacheCandidate,
  isImmutableAsset,
  isShellDocument,
  keep,
  MAX_KEPT_BYTES,
  markOffline,
  mayKeep,
  OFFLINE_TAGS,
  shellKey,
} from './offline-cache.ts';

function candidate(
  path: string,
  headers: Record<string, string>,
  over: Partial<CacheCandidate> = {},
): CacheCandidate {
  return {
    method: 'GET',
    mode: 'cors',
    url: new URL(path, 'https://app.example.com'),
    status: 200,
    headers: new Headers(headers),
    ...over,
  };
}

describe('isImmutableAsset', () => {
  it('keeps assets marked immutable or with a content hash in the name', () => {
    expect(
      isImmutableAsset(
        candidate('/static/x.js', { 'cache-control': 'max-age=31536000, immutable' }),
      ),
    ).toBe(true);
    expect(isImmutableAsset(candidate('/static/assets/index-B3x9kQ2a.js', {}))).toBe(true);
    expect(
      isImmutableAsset(candidate('/static/main.8f3a2c1d.css', { 'cache-control': 'public' })),
    ).toBe(true);
  });

  it('never keeps API answers, no-store, errors, other methods, navigations or plain names', () => {
    const immutable = { 'cache-control': 'max-age=31536000, immutable' };
    expect(isImmutableAsset(candidate('/api/v4/users/me', immutable))).toBe(false);
    expect(
      isImmutableAsset(
        candidate('/static/a.js', { ...immutable, 'content-type': 'application/json' }),
      ),
    ).toBe(false);
    expect(
      isImmutableAsset(candidate('/static/a-B3x9kQ2a.js', { 'cache-control': 'no-store' })),
    ).toBe(false);
    expect(isImmutableAsset(candidate('/static/a.js', immutable, { status: 404 }))).toBe(false);
    expect(isImmutableAsset(candidate('/static/a.js', immutable, { method: 'POST' }))).toBe(false);
    expect(isImmutableAsset(candidate('/static/a.js', immutable, { mode: 'navigate' }))).toBe(
      false,
    );
    expect(isImmutableAsset(candidate('/static/a.js?v=1', immutable))).toBe(false);
    expect(isImmutableAsset(candidate('/static/settings.js', {}))).toBe(false);
    expect(isImmutableAsset(candidate('/static/app-settings.js', {}))).toBe(false);
  });
});

describe('isShellDocument', () => {
  const html = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' };
  it('keeps successful HTML navigations', () => {
    expect(isShellDocument(candidate('/channels/x', html, { mode: 'navigate' }))).toBe(true);
  });
  it('skips no-store, non-HTML, errors and non-navigations', () => {
    expect(
      isShellDocument(
        candidate('/', { ...html, 'cache-control': 'no-store' }, { mode: 'navigate' }),
      ),
    ).toBe(false);
    expect(
      isShellDocument(candidate('/', { 'content-type': 'text/plain' }, { mode: 'navigate' })),
    ).toBe(false);
    expect(isShellDocument(candidate('/', html, { mode: 'navigate', status: 500 }))).toBe(false);
    expect(isShellDocument(candidate('/', html))).toBe(false);
  });
});

describe('offline shell', () => {
  it('keys by path and adds the banner before </head>', () => {
    expect(shellKey(new URL('https://a.example/x/y?q=1#h'))).toBe('https://a.example/x/y');
    expect(markOffline('<html><head><title>t</title></HEAD><body></body></html>')).toBe(
      `<html><head><title>t</title>${OFFLINE_TAGS}</HEAD><body></body></html>`,
    );
    expect(markOffline('<p>no head</p>')).toBe(`${OFFLINE_TAGS}<p>no head</p>`);
  });

  it("gives the banner script the nonce the document's policy needs", () => {
    expect(markOffline('<head></head>', 'abc')).toBe(
      '<head><meta name="zt-offline" content="1"><script nonce="abc" src="/__zt/offline.js"></script></head>',
    );
  });
});

describe('cache headers and size', () => {
  const immutable = { 'cache-control': 'max-age=31536000, immutable' };
  const html = { 'content-type': 'text/html', 'cache-control': 'no-cache' };

  it('keeps nothing marked private, in any spelling', () => {
    for (const cc of ['private', 'max-age=600, Private', 'private="set-cookie", immutable']) {
      expect(isImmutableAsset(candidate('/static/a-B3x9kQ2a.js', { 'cache-control': cc }))).toBe(
        false,
      );
      expect(
        isShellDocument(candidate('/', { ...html, 'cache-control': cc }, { mode: 'navigate' })),
      ).toBe(false);
    }
  });

  it('keeps nothing whose declared length is over the bound; an unknown length is left to keep()', () => {
    const big = { 'content-length': String(MAX_KEPT_BYTES + 1) };
    expect(isImmutableAsset(candidate('/static/a.js', { ...immutable, ...big }))).toBe(false);
    expect(isShellDocument(candidate('/', { ...html, ...big }, { mode: 'navigate' }))).toBe(false);
    expect(
      isImmutableAsset(
        candidate('/static/a.js', { ...immutable, 'content-length': String(MAX_KEPT_BYTES) }),
      ),
    ).toBe(true);
    expect(isImmutableAsset(candidate('/static/a.js', immutable))).toBe(true);
    expect(mayKeep(new Headers({ 'content-length': 'lots' }))).toBe(false);
  });
});

describe('keep', () => {
  /** A cache that stores what it reads from the body; an erroring body leaves no entry. */
  class FakeCache {
    readonly entries = new Map<string, { bytes: Uint8Array; init: ResponseInit }>();
    async put(key: string, response: Response) {
      const bytes = new Uint8Array(await response.arrayBuffer());
      this.entries.set(key, {
        bytes,
        init: { status: response.status, headers: new Headers(response.headers) },
      });
    }
    async match(key: string) {
      const e = this.entries.get(key);
      return e ? new Response(e.bytes.slice(), e.init) : undefined;
    }
  }
  let cache: FakeCache;
  beforeEach(() => {
    cache = new FakeCache();
    vi.stubGlobal('caches', {
      open: async (name: string) => {
        expect(name).toBe(APP_CACHE);
        return cache;
      },
    });
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    vi.spyOn(console, 'info').mockImplementation(() => {});
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  const CHUNK = 64 * 1024;
  /** A body of `total` bytes produced only as it is read; `stat` tells how much was read. */
  function source(total: number) {
    const stat = { pulled: 0, cancelled: false };
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (stat.pulled >= total) return controller.close();
          const n = Math.min(CHUNK, total - stat.pulled);
          stat.pulled += n;
          controller.enqueue(new Uint8Array(n).fill(7));
        },
        cancel() {
          stat.cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    return { body, stat };
  }
  const MiB = 1024 * 1024;

  it('stores a small body under every key, reading it once', async () => {
    const { body, stat } = source(100_000);
    await keep(['https://a.example/x', 'https://a.example/__zt/offline-shell'], new Response(body));
    expect(stat.pulled).toBe(100_000);
    expect([...cache.entries.keys()]).toEqual([
      'https://a.example/x',
      'https://a.example/__zt/offline-shell',
    ]);
    for (const e of cache.entries.values()) expect(e.bytes.length).toBe(100_000);
  });

  it('does not read a body whose declared length is over the bound, and cancels it', async () => {
    const { body, stat } = source(20 * MiB);
    await keep(
      'https://a.example/big-B3x9kQ2a.js',
      new Response(body, { headers: { 'content-length': String(20 * MiB) } }),
    );
    expect(stat.pulled).toBe(0);
    expect(stat.cancelled).toBe(true);
    expect(cache.entries.size).toBe(0);
  });

  it('stops reading a body of unknown length at the bound and stores nothing', async () => {
    const { body, stat } = source(20 * MiB);
    await keep('https://a.example/big-B3x9kQ2a.js', new Response(body));
    expect(stat.pulled).toBeLessThanOrEqual(MAX_KEPT_BYTES + CHUNK);
    expect(stat.cancelled).toBe(true);
    expect(cache.entries.size).toBe(0);
    // A body of exactly the bound is kept.
    const exact = source(MAX_KEPT_BYTES);
    await keep('https://a.example/ok-B3x9kQ2a.js', new Response(exact.body));
    expect(cache.entries.get('https://a.example/ok-B3x9kQ2a.js')?.bytes.length).toBe(
      MAX_KEPT_BYTES,
    );
  });

  it('reads nothing of a response marked no-store or private', async () => {
    for (const cc of ['no-store', 'private, max-age=60']) {
      const { body, stat } = source(1000);
      await keep(
        'https://a.example/a-B3x9kQ2a.js',
        new Response(body, { headers: { 'cache-control': cc } }),
      );
      expect(stat.pulled).toBe(0);
      expect(cache.entries.size).toBe(0);
    }
  });

  it('declining a clone leaves the original whole for the page', async () => {
    const { body } = source(12 * MiB);
    const original = new Response(body);
    const kept = keep('https://a.example/big-B3x9kQ2a.js', original.clone());
    const [bytes] = await Promise.all([original.arrayBuffer(), kept]);
    expect(bytes.byteLength).toBe(12 * MiB);
    expect(cache.entries.size).toBe(0);
  });
});
