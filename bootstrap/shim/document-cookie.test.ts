import { afterEach, describe, expect, it } from 'vitest';
import type { CookieBridgeRequest } from '../../shared/page-worker/messages.ts';
import { COOKIE_CHANNEL } from '../../shared/page-worker/names.ts';
import { installDocumentCookie } from './document-cookie.ts';

const channels: BroadcastChannel[] = [];
afterEach(() => {
  for (const c of channels.splice(0)) c.close();
});

/** A window-like object whose Document has a native cookie accessor holding `native`. */
function fakeWindow(native: string, href = 'https://app.test/page') {
  class FakeDocument {
    get cookie() {
      return native;
    }
    set cookie(_v: string) {
      throw new Error('the native setter must not be used');
    }
  }
  const document = new FakeDocument();
  class TrackedChannel extends BroadcastChannel {
    constructor(name: string) {
      super(name);
      channels.push(this);
    }
  }
  return {
    document,
    Document: FakeDocument,
    location: { href },
    BroadcastChannel: TrackedChannel,
  } as unknown as Window & typeof globalThis;
}

describe('installDocumentCookie', () => {
  it('reads the snapshot merged with native cookies, synchronously', () => {
    const win = fakeWindow('native=1; MMCSRF=stale');
    installDocumentCookie(win, { initial: 'MMUSERID=u1; MMCSRF=c1', send: () => {} });
    expect(win.document.cookie).toBe('native=1; MMCSRF=c1; MMUSERID=u1');
  });

  it('applies writes locally at once and sends them to the SW', () => {
    const win = fakeWindow('');
    const sent: CookieBridgeRequest[] = [];
    installDocumentCookie(win, { initial: 'a=1; b=2', send: (r) => sent.push(r) });
    win.document.cookie = 'c=3; Path=/; SameSite=Lax';
    win.document.cookie = 'a=; Max-Age=0';
    win.document.cookie = 'b=; Expires=Thu, 01 Jan 1970 00:00:00 GMT';
    win.document.cookie = 'h=1; HttpOnly';
    win.document.cookie = 'c=4';
    expect(win.document.cookie).toBe('c=4');
    expect(sent.map((s) => s.type === 'zt/cookie-set' && s.cookie)).toEqual([
      'c=3; Path=/; SameSite=Lax',
      'a=; Max-Age=0',
      'b=; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
      'h=1; HttpOnly',
      'c=4',
    ]);
    expect(sent.every((s) => s.url === 'https://app.test/page')).toBe(true);
  });

  it('follows updates for its URL and asks for its own after another page’s', async () => {
    const win = fakeWindow('');
    const sent: CookieBridgeRequest[] = [];
    installDocumentCookie(win, { initial: 'a=1', send: (r) => sent.push(r) });
    const sw = new BroadcastChannel(COOKIE_CHANNEL);
    channels.push(sw);
    sw.postMessage({ type: 'zt/cookie-update', url: 'https://app.test/page', cookie: 'a=2; z=9' });
    await new Promise((r) => setTimeout(r, 30));
    expect(win.document.cookie).toBe('a=2; z=9');
    sw.postMessage({ type: 'zt/cookie-update', url: 'https://app.test/other', cookie: 'x=1' });
    await new Promise((r) => setTimeout(r, 30));
    expect(win.document.cookie).toBe('a=2; z=9');
    expect(sent).toEqual([{ type: 'zt/cookie-get', url: 'https://app.test/page' }]);
  });
});
