import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CookieBridgeRequest } from '../../shared/page-worker/messages.ts';
import { COOKIE_CHANNEL } from '../../shared/page-worker/names.ts';
import { installDocumentCookie } from './document-cookie.ts';

const channels: BroadcastChannel[] = [];
afterEach(() => {
  for (const c of channels.splice(0)) c.close();
  vi.useRealTimers();
});

/** Lets messages arrive (without timers, which a test may fake) until `done` holds. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise((r) => setImmediate(r));
  expect(done()).toBe(true);
}

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

  it('asks for its cookies again when the first of them expires, one timer per update', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 1_000_000 });
    const win = fakeWindow('');
    const sent: CookieBridgeRequest[] = [];
    installDocumentCookie(win, { initial: 'a=1', send: (r) => sent.push(r) });
    const sw = new BroadcastChannel(COOKIE_CHANNEL);
    channels.push(sw);
    const url = 'https://app.test/page';
    sw.postMessage({ type: 'zt/cookie-update', url, cookie: 'short=1', expires: 1_002_000 });
    await until(() => win.document.cookie === 'short=1');
    // A later update replaces the timer: only its expiry counts.
    sw.postMessage({ type: 'zt/cookie-update', url, cookie: 'short=1; b=2', expires: 1_005_000 });
    await until(() => win.document.cookie === 'short=1; b=2');
    vi.advanceTimersByTime(4_000);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1_001);
    expect(sent).toEqual([{ type: 'zt/cookie-get', url }]);
    vi.advanceTimersByTime(60_000);
    expect(sent, 'once').toHaveLength(1);
    // The answer without an expiry sets no timer; one with an expiry far ahead is asked within the
    // longest delay a timer keeps.
    sw.postMessage({ type: 'zt/cookie-update', url, cookie: 'b=2' });
    await until(() => win.document.cookie === 'b=2');
    vi.advanceTimersByTime(10 * 86_400_000);
    expect(sent).toHaveLength(1);
    sw.postMessage({ type: 'zt/cookie-update', url, cookie: 'y=1', expires: Date.now() + 1e12 });
    await until(() => win.document.cookie === 'y=1');
    vi.advanceTimersByTime(2 ** 31 - 2);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sent).toHaveLength(2);
  });
});
