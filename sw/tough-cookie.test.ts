import { expect, it } from 'vitest';

it('is evaluated on the first load, not on import, and refuses use before it', async () => {
  const { loadToughCookie, toughCookie } = await import('./tough-cookie.ts');
  expect(() => toughCookie()).toThrow('before the cookie jar was opened');
  const loading = loadToughCookie();
  expect(loadToughCookie()).toBe(loading);
  const lib = await loading;
  expect(toughCookie()).toBe(lib);
  expect(lib.getPublicSuffix('a.example.co.uk')).toBe('example.co.uk');
});
