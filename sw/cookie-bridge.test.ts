import { describe, expect, it } from 'vitest';
import {
  type CookieUpdate,
  cookieSnapshotPrelude,
  isCookieBridgeRequest,
} from '../shared/page-worker/messages.ts';
import { announceCookies, handleCookieBridgeRequest, withCookieSnapshot } from './cookie-bridge.ts';
import { CookieJar } from './cookie-jar.ts';

async function jar() {
  const data = new Map<string, unknown>();
  const j = await CookieJar.open({
    get: async (k) => data.get(k),
    set: async (k, v) => {
      data.set(k, v);
    },
  });
  await j.setFromResponse('https://app.test/', [
    'MMAUTHTOKEN=secret; Path=/; HttpOnly',
    'MMUSERID=u1; Path=/',
    'MMCSRF=c1; Path=/',
    'scoped=1; Path=/admin',
  ]);
  return j;
}

describe('cookie bridge (SW side)', () => {
  it('prefixes the shim with the page cookies, without HttpOnly, as a JS string literal', async () => {
    const j = await jar();
    const shim = new Response('console.log("shim");', {
      headers: { 'content-type': 'text/javascript', etag: '"x"', 'cache-control': 'max-age=60' },
    });
    const r = await withCookieSnapshot(shim, j, 'https://app.test/channels/town');
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.has('etag')).toBe(false);
    const text = await r.text();
    expect(text).toBe('self.__ztDocumentCookie="MMUSERID=u1; MMCSRF=c1";\nconsole.log("shim");');
    // The prelude evaluates to exactly the string, whatever the cookie holds.
    const tricky = 'a="</script>\\u2028"; b=\n';
    const g: Record<string, unknown> = {};
    new Function('self', cookieSnapshotPrelude(tricky))(g);
    expect(g.__ztDocumentCookie).toBe(tricky);
  });

  it('applies page writes for the app origin only, and answers with the new value', async () => {
    const j = await jar();
    const set = {
      type: 'zt/cookie-set',
      url: 'https://app.test/admin/x',
      cookie: 'theme=dark; Path=/',
    };
    expect(isCookieBridgeRequest(set)).toBe(true);
    expect(isCookieBridgeRequest({ type: 'zt/cookie-set', url: 'x' })).toBe(false);
    expect(isCookieBridgeRequest(null)).toBe(false);
    const u = await handleCookieBridgeRequest(set as never, j, 'https://app.test');
    expect(u).toEqual({
      type: 'zt/cookie-update',
      url: 'https://app.test/admin/x',
      cookie: 'scoped=1; MMUSERID=u1; MMCSRF=c1; theme=dark',
    });
    // A page cannot overwrite an HttpOnly cookie or read it.
    await handleCookieBridgeRequest(
      { type: 'zt/cookie-set', url: 'https://app.test/', cookie: 'MMAUTHTOKEN=evil' },
      j,
      'https://app.test',
    );
    expect(await j.cookieHeader('https://app.test/')).toContain('MMAUTHTOKEN=secret');
    // Deletion.
    const del = await handleCookieBridgeRequest(
      { type: 'zt/cookie-set', url: 'https://app.test/', cookie: 'theme=; Max-Age=0; Path=/' },
      j,
      'https://app.test',
    );
    expect(del.cookie).toBe('MMUSERID=u1; MMCSRF=c1');
    await expect(
      handleCookieBridgeRequest(
        { type: 'zt/cookie-get', url: 'https://evil.test/' },
        j,
        'https://app.test',
      ),
    ).rejects.toThrow(/foreign origin/);
  });

  it('announces the jar for a page', async () => {
    const j = await jar();
    const got: CookieUpdate[] = [];
    await announceCookies(j, 'https://app.test/', (m) => got.push(m));
    expect(got).toEqual([
      { type: 'zt/cookie-update', url: 'https://app.test/', cookie: 'MMUSERID=u1; MMCSRF=c1' },
    ]);
  });

  it('says when the first cookie the page sees expires, HttpOnly and other paths aside', async () => {
    const j = await jar();
    const before = Date.now();
    await j.setFromResponse('https://app.test/', [
      'later=1; Path=/; Max-Age=60',
      'hidden=1; Path=/; HttpOnly; Max-Age=1',
      'elsewhere=1; Path=/admin; Max-Age=2',
    ]);
    await j.setFromDocument('https://app.test/', 'soon=1; Path=/; Max-Age=5');
    const got: CookieUpdate[] = [];
    await announceCookies(j, 'https://app.test/', (m) => got.push(m));
    const expires = got[0]?.expires ?? 0;
    expect(expires).toBeGreaterThanOrEqual(before + 5_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 5_000);
    const answer = await handleCookieBridgeRequest(
      { type: 'zt/cookie-get', url: 'https://app.test/admin/x' },
      j,
      'https://app.test',
    );
    expect(answer.expires).toBeLessThanOrEqual(Date.now() + 2_000);
    expect(answer.expires).toBeGreaterThan(Date.now());
  });
});
