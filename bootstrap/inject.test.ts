import { describe, expect, it } from 'vitest';
import { decide, type InjectEnvironment, run } from './inject.ts';

const origin = 'https://app.example.com';

function env(over: Partial<InjectEnvironment> = {}): InjectEnvironment {
  return {
    location: { origin, pathname: '/channels/x', search: '?a=1', hash: '#m' },
    serviceWorker: { controller: null },
    isBootstrapPage: false,
    alreadyRan: false,
    ...over,
  };
}

describe('bootstrap.js decision', () => {
  it('sends an uncontrolled page to the bootstrap with its own URL as the return target', () => {
    expect(decide(env())).toEqual({
      action: 'bootstrap',
      url: `/__zt/index.html?return=${encodeURIComponent('/channels/x?a=1#m')}`,
    });
  });

  it('does nothing when our worker controls the page', () => {
    const sw = { controller: { scriptURL: `${origin}/sw.js` } };
    expect(decide(env({ serviceWorker: sw }))).toEqual({ action: 'none', reason: 'controlled' });
  });

  it('still bootstraps when some other worker controls the page', () => {
    const sw = { controller: { scriptURL: `${origin}/app-sw.js` } };
    expect(decide(env({ serviceWorker: sw })).action).toBe('bootstrap');
    const foreign = { controller: { scriptURL: 'https://cdn.example/sw.js' } };
    expect(decide(env({ serviceWorker: foreign })).action).toBe('bootstrap');
  });

  it('is quiet on the bootstrap page, under our prefix, when run twice, or without workers', () => {
    expect(decide(env({ isBootstrapPage: true }))).toMatchObject({ reason: 'bootstrap-page' });
    const own = { origin, pathname: '/__zt/callback', search: '', hash: '' };
    expect(decide(env({ location: own }))).toMatchObject({ reason: 'bootstrap-page' });
    expect(decide(env({ alreadyRan: true }))).toMatchObject({ reason: 'already-ran' });
    expect(decide(env({ serviceWorker: undefined }))).toMatchObject({ reason: 'unsupported' });
  });

  it('navigates once, and a second injected copy does nothing', () => {
    const replaced: string[] = [];
    const win = {
      location: {
        origin,
        pathname: '/a',
        search: '',
        hash: '',
        replace: (u: string) => replaced.push(u),
      },
      isSecureContext: true,
      navigator: { serviceWorker: { controller: null } },
      document: { querySelector: () => null },
    } as unknown as Window;
    expect(run(win).action).toBe('bootstrap');
    expect(run(win)).toEqual({ action: 'none', reason: 'already-ran' });
    expect(replaced).toEqual(['/__zt/index.html?return=%2Fa']);
  });
});
