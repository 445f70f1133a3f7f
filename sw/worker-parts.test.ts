import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

type WorkerParts = typeof import('./worker-parts.ts');

describe('worker parts (importScripts on first use)', () => {
  let fetched: string[];
  let scope: Record<string, unknown>;
  let parts: WorkerParts;

  beforeEach(async () => {
    fetched = [];
    scope = {
      importScripts: (url: string) => {
        fetched.push(url);
        if (url.includes('offline')) throw new DOMException('failed to fetch', 'NetworkError');
        if (url.startsWith('/cookies')) scope.__ztPart_cookies = { CookieJar: 'jar' };
        if (url.startsWith('/oauth')) scope.__ztPart_oauth = { refresh: 'grant' };
      },
    };
    vi.stubGlobal('self', scope);
    vi.stubGlobal('__ZT_WORKER_PARTS__', {
      cookies: { url: '/cookies.1.js', global: '__ztPart_cookies' },
      oauth: { url: '/oauth.1.js', global: '__ztPart_oauth' },
      empty: { url: '/empty.1.js', global: '__ztPart_empty' },
      gone: { url: '/offline.1.js', global: '__ztPart_gone' },
    });
    vi.resetModules();
    parts = await import('./worker-parts.ts');
  });
  afterEach(() => vi.unstubAllGlobals());

  it('imports a part once, on the first call, and says which it imported', () => {
    expect(parts.imported).toEqual([]);
    expect(parts.importPart('cookies')).toEqual({ CookieJar: 'jar' });
    expect(parts.importPart('cookies')).toEqual({ CookieJar: 'jar' });
    expect(fetched).toEqual(['/cookies.1.js']);
    expect(parts.imported).toEqual(['cookies']);
  });

  it('fails clearly for a part the build does not have, or a script that defines nothing', () => {
    expect(() => parts.importPart('nope')).toThrow('this build has no worker part "nope"');
    expect(() => parts.importPart('empty')).toThrow(
      'the worker part /empty.1.js did not define __ztPart_empty',
    );
    expect(parts.imported).toEqual([]);
  });

  it("passes on the browser's refusal to import (a part not kept with the worker)", () => {
    expect(() => parts.importPart('gone')).toThrow(/failed to fetch/);
  });

  it('imports every part while installing, so that the browser keeps them all', () => {
    vi.stubGlobal('__ZT_WORKER_PARTS__', {
      cookies: { url: '/cookies.1.js', global: '__ztPart_cookies' },
      oauth: { url: '/oauth.1.js', global: '__ztPart_oauth' },
    });
    vi.resetModules();
    return import('./worker-parts.ts').then((fresh) => {
      fresh.importPartsWhileInstalling();
      expect(fetched).toEqual(['/cookies.1.js', '/oauth.1.js']);
      expect(fresh.imported).toEqual(['cookies', 'oauth']);
    });
  });

  it('has no parts outside the worker build', async () => {
    vi.unstubAllGlobals();
    vi.stubGlobal('self', scope);
    vi.resetModules();
    const bare = await import('./worker-parts.ts');
    expect(() => bare.importPart('cookies')).toThrow(/no worker part/);
    bare.importPartsWhileInstalling();
    expect(fetched).toEqual([]);
  });
});
