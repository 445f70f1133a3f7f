import { describe, expect, it } from 'vitest';
import {
  type CacheCandidate,
  isImmutableAsset,
  isShellDocument,
  markOffline,
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
});
