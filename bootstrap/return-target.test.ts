import { describe, expect, it } from 'vitest';
import { bootstrapUrlFor, requestedPath, safeReturnPath } from './return-target.ts';

const origin = 'https://app.example.com';

describe('safeReturnPath', () => {
  it('keeps a same-origin path with query and fragment', () => {
    expect(safeReturnPath('/channels/town?x=1#top', origin)).toBe('/channels/town?x=1#top');
  });

  it.each([
    null,
    '',
    'https://evil.example/x',
    '//evil.example/x',
    '/\\evil.example',
    'javascript:alert(1)',
    'channels',
    '/__zt/index.html',
    '/__zt/callback?code=1',
    '/.//evil.example/x',
    '/./\\evil.example/x',
    '/a/..//evil.example/x',
    '/%2e//evil.example/x',
    '/\\/evil.example/x',
  ])('turns %j into the root', (raw) => {
    expect(safeReturnPath(raw, origin)).toBe('/');
  });

  it('normalises dot segments before checking the reserved prefix', () => {
    expect(safeReturnPath('/a/../__zt/sw-status', origin)).toBe('/');
    expect(safeReturnPath('/a/../b', origin)).toBe('/b');
  });
});

describe('requestedPath', () => {
  it('is the URL itself outside our prefix', () => {
    expect(requestedPath(new URL(`${origin}/x/y?q=1#h`))).toBe('/x/y?q=1#h');
  });

  it('never leaves the origin for a deep link whose path is scheme-relative', () => {
    expect(requestedPath(new URL(`${origin}//evil.example/phish`))).toBe('/');
    expect(requestedPath(new URL(`${origin}/.//evil.example/phish`))).toBe('/');
  });

  it('whatever it is given, the result stays on the origin (every prefix of a tricky path)', () => {
    const tricky = '/./\\/%2e%2e//evil.example:443/@x/../__zt/?q=//a#//b';
    for (let i = 1; i <= tricky.length; i++) {
      const path = safeReturnPath(tricky.slice(0, i), origin);
      expect(new URL(path, origin).origin).toBe(origin);
      expect(requestedPath(new URL(`${origin}${tricky.slice(0, i)}`))).toMatch(/^\/(?![/\\])/);
    }
  });

  it('is the validated return parameter on the bootstrap page', () => {
    const url = new URL(`${origin}/__zt/index.html?return=${encodeURIComponent('/deep?a=b#c')}`);
    expect(requestedPath(url)).toBe('/deep?a=b#c');
    expect(requestedPath(new URL(`${origin}/__zt/index.html?return=//evil.example`))).toBe('/');
    expect(requestedPath(new URL(`${origin}/__zt/index.html`))).toBe('/');
  });

  it('round-trips what bootstrapUrlFor builds', () => {
    const loc = { pathname: '/p%20q', search: '?a=1&b=%2F', hash: '#x' };
    const url = new URL(bootstrapUrlFor(loc), origin);
    expect(url.pathname).toBe('/__zt/index.html');
    expect(requestedPath(url)).toBe('/p%20q?a=1&b=%2F#x');
  });
});
