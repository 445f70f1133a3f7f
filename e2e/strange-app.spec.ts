/**
 * What real web apps do at the edges of HTTP and the browser, through the tunnel, against the
 * strange app (e2e/support/strange-app.ts): Server-Sent Events with reconnects, long polling,
 * beacons and keepalive fetches, downloads, redirect chains, cookies of every kind, a nonce-only
 * CSP, the app's own service-worker calls and HTTP Basic. After every test, nothing meant for the
 * app may have reached the static site in clear.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Page } from '@playwright/test';
import { enterApp } from './support/enter-app.ts';
import { expect, type FabricFixture, test } from './support/fabric.ts';
import {
  downloadBytes,
  POLL_HOLD_MS,
  SSE_PER_CONNECTION,
  STRANGE_BASIC,
  type StrangeRequest,
} from './support/strange-app.ts';

test.use({ darkApp: 'strange' });

const requests = (zt: FabricFixture, from = 0) =>
  (zt.appRequests as readonly StrangeRequest[]).slice(from);
const bodiesAt = (zt: FabricFixture, from: number, url: string) =>
  requests(zt, from)
    .filter((r) => r.url === url)
    .map((r) => `${r.method} ${r.body}`);

/** Where the site's request log stood once the app was entered (-1: not entered). */
let siteFrom = -1;

/**
 * Signs in and opens `path` of the app; from here on the static site must see nothing of it.
 * Returns where the app's request log stood before (the log is shared by the file's tests).
 */
async function enter(page: Page, zt: FabricFixture, path: string): Promise<number> {
  const from = zt.appRequests.length;
  await enterApp(page, zt, path);
  siteFrom = zt.siteRequests.length;
  return from;
}

/** Our own files (and the browser's update check of the worker) are all the site may serve. */
const ours = (path: string) => path === '/sw.js' || path.startsWith('/__zt/');

test.afterEach(({ zt }) => {
  if (siteFrom < 0) return;
  const inClear = zt.siteRequests.slice(siteFrom).filter((p) => !ours(p));
  siteFrom = -1;
  expect(inClear, 'nothing meant for the app reached the static site in clear').toEqual([]);
});

/** The page's `document.cookie`, split into sorted pairs. */
const documentCookie = (page: Page) =>
  page.evaluate(() =>
    document.cookie
      .split(';')
      .map((c) => c.trim())
      .filter(Boolean)
      .sort(),
  );

/** The Cookie header the app got at `path` (asked by the page), split into sorted pairs. */
const cookiesAt = (page: Page, path: string) =>
  page.evaluate(async (p) => {
    const text = await (await fetch(p, { cache: 'no-store' })).text();
    return text
      .split(';')
      .map((c) => c.trim())
      .filter(Boolean)
      .sort();
  }, path);

test.describe('Server-Sent Events', () => {
  test('a stream the app ends is reopened by EventSource, and every event of each response arrives once, in order', async ({
    page,
    zt,
  }) => {
    const from = await enter(page, zt, '/sse');
    // A stream of its own (another URL than the page's EventSource, whose last id it must not
    // inherit): two responses are read.
    const events = await page.evaluate(
      (perConnection) =>
        new Promise<string[]>((resolve) => {
          const seen: string[] = [];
          const source = new EventSource('/events?reader=test');
          source.onmessage = (e) => {
            seen.push(`${e.lastEventId}:${e.data}`);
            if (seen.length === 2 * perConnection) {
              source.close();
              resolve(seen);
            }
          };
        }),
      SSE_PER_CONNECTION,
    );
    expect(events.slice(0, SSE_PER_CONNECTION), 'the first response, event by event').toEqual(
      Array.from({ length: SSE_PER_CONNECTION }, (_, i) => `${i + 1}:event ${i + 1}`),
    );
    expect(events.length, 'events of the reopened stream arrive too').toBe(2 * SSE_PER_CONNECTION);
    expect(
      requests(zt, from).filter((r) => r.url === '/events?reader=test').length,
      'the stream was reopened through the tunnel',
    ).toBeGreaterThanOrEqual(2);
  });

  test('each reconnect resumes from Last-Event-ID with no event lost or duplicated', async ({
    page,
    zt,
  }) => {
    const from = await enter(page, zt, '/sse');
    const events = await page.evaluate(
      () => (window as unknown as { sseDone: Promise<{ id: string }[]> }).sseDone,
    );
    expect(
      events.map((e) => e.id),
      'every event arrives once, in order',
    ).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(
      requests(zt, from)
        .filter((r) => r.url === '/events')
        .map((r) => r.lastEventId),
      'each reconnect sends the last id seen',
    ).toEqual(['', '3', '6']);
  });

  test('events of one response reach the page one by one, not when the response ends', async ({
    page,
    zt,
  }) => {
    await enter(page, zt, '/sse');
    const timings = await page.evaluate(
      () =>
        new Promise<number[]>((resolve) => {
          const at: number[] = [];
          const source = new EventSource('/events');
          source.onmessage = () => {
            at.push(performance.now());
            if (at.length === 3) {
              source.close();
              resolve(at);
            }
          };
        }),
    );
    // The app waits 150 ms before each event; a buffered response would deliver all three at once.
    expect(
      (timings[2] ?? 0) - (timings[0] ?? 0),
      'events are delivered as they are sent',
    ).toBeGreaterThanOrEqual(200);
  });
});

test('long polling: requests held open by the app complete round after round, and a message posted meanwhile is delivered', async ({
  page,
  zt,
}) => {
  const from = await enter(page, zt, '/longpoll');
  const rounds = () =>
    page.evaluate(() => (window as unknown as { pollRounds: number }).pollRounds);
  // Each empty round was held by the app for the whole hold time.
  await expect
    .poll(rounds, { timeout: POLL_HOLD_MS * 10, message: 'three held rounds complete' })
    .toBeGreaterThanOrEqual(3);
  const polls = requests(zt, from).filter((r) => r.url.startsWith('/poll?'));
  expect(polls.length).toBeGreaterThanOrEqual(3);
  // A message posted while a poll is held open wakes it.
  await page.evaluate(() =>
    fetch('/poll/post', { method: 'POST', body: 'hello while waiting' }).then((r) => r.status),
  );
  await expect
    .poll(
      () => page.evaluate(() => (window as unknown as { pollMessages: string[] }).pollMessages),
      { message: 'the message reaches the waiting poll' },
    )
    .toEqual(['hello while waiting']);
  const after = await rounds();
  await expect.poll(rounds, { message: 'polling goes on afterwards' }).toBeGreaterThan(after);
});

test.describe('beacons', () => {
  test('navigator.sendBeacon on a click and on pagehide (while navigating away) reaches the app with its body', async ({
    page,
    zt,
  }) => {
    const from = await enter(page, zt, '/beacon-page');
    await page.locator('#send').click();
    expect(
      await page.evaluate(() => (window as unknown as { beaconQueued: boolean }).beaconQueued),
    ).toBe(true);
    await expect
      .poll(() => bodiesAt(zt, from, '/beacon?via=click'), { message: 'the click beacon arrived' })
      .toEqual(['POST beacon-from-click']);
    await page.goto(`${zt.siteOrigin}/after-beacon`);
    await expect(page.locator('#app')).toHaveText('strange /after-beacon');
    await expect
      .poll(() => bodiesAt(zt, from, '/beacon?via=pagehide'), {
        message: 'the pagehide beacon arrived',
      })
      .toEqual(['POST beacon-from-pagehide']);
  });

  // Firefox sends keepalive fetches past the service worker: the page shim hands them to it.
  test('fetch with keepalive on a click and on pagehide reaches the app with its body', async ({
    page,
    zt,
  }) => {
    const from = await enter(page, zt, '/keepalive-page');
    await page.locator('#send').click();
    await expect
      .poll(() => bodiesAt(zt, from, '/keepalive?via=click'))
      .toEqual(['POST keepalive-from-click']);
    await page.goto(`${zt.siteOrigin}/after-keepalive`);
    await expect(page.locator('#app')).toHaveText('strange /after-keepalive');
    await expect
      .poll(() => bodiesAt(zt, from, '/keepalive?via=pagehide'))
      .toEqual(['POST keepalive-from-pagehide']);
  });
});

test.describe('downloads', () => {
  test('a link answered with Content-Disposition: attachment downloads under its filename', async ({
    page,
    zt,
  }) => {
    await enter(page, zt, '/downloads');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#attachment').click(),
    ]);
    expect(download.suggestedFilename()).toBe('strange-data.bin');
    expect(await download.failure()).toBeNull();
    const bytes = await readFile((await download.path()) ?? '');
    expect(bytes.equals(downloadBytes()), "the downloaded bytes are the app's").toBe(true);
    // The page stays where it was.
    await expect(page.locator('#app')).toHaveText('downloads');
  });

  // Chromium starts `<a download>` past the service worker: the page shim fetches it through it.
  test('<a download> of a generated file completes with its name and exact bytes', async ({
    page,
    zt,
  }) => {
    const from = await enter(page, zt, '/downloads');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#csv').click(),
    ]);
    expect(download.suggestedFilename()).toBe('report.csv');
    expect(await download.failure()).toBeNull();
    expect((await readFile((await download.path()) ?? '')).equals(downloadBytes())).toBe(true);
    expect(requests(zt, from).some((r) => r.url === '/files/report.csv')).toBe(true);
  });
});

test.describe('redirect chains', () => {
  const hops = (zt: FabricFixture, from: number) =>
    requests(zt)
      .slice(from)
      .filter((r) => r.url.startsWith('/chain/'))
      .map((r) => `${r.method} ${r.url}${r.body ? ` ${r.body}` : ''}`);

  test('a navigation through 301, 302 (absolute Location), 303 and 307 ends at the final page with GET at every hop', async ({
    page,
    zt,
  }) => {
    await enter(page, zt, '/start');
    const from = requests(zt).length;
    await page.goto(`${zt.siteOrigin}/chain/301/302/303/307`);
    expect(page.url()).toBe(`${zt.siteOrigin}/chain/end`);
    await expect(page.locator('#app')).toHaveText('end GET');
    expect(hops(zt, from)).toEqual([
      'GET /chain/301/302/303/307',
      'GET /chain/302/303/307',
      'GET /chain/303/307',
      'GET /chain/307',
      'GET /chain/end',
    ]);
  });

  test('a form POST through 307 and 308 keeps its method and body; 303 turns it into GET, which the next 307 keeps', async ({
    page,
    zt,
  }) => {
    await enter(page, zt, '/start');
    const from = requests(zt).length;
    await page.evaluate(() => {
      const form = document.createElement('form');
      form.method = 'POST';
      form.action = '/chain/307/308/303/307';
      form.innerHTML = '<input name="field" value="value">';
      document.body.append(form);
      form.submit();
    });
    await page.waitForURL(`${zt.siteOrigin}/chain/end`);
    await expect(page.locator('#app')).toHaveText('end GET');
    expect(hops(zt, from)).toEqual([
      'POST /chain/307/308/303/307 field=value',
      'POST /chain/308/303/307 field=value',
      'POST /chain/303/307 field=value',
      'GET /chain/307',
      'GET /chain/end',
    ]);
  });

  test('fetch follows 301, 302, 303 and 307 and reports redirected and the final URL', async ({
    page,
    zt,
  }) => {
    await enter(page, zt, '/start');
    const from = requests(zt).length;
    const answer = await page.evaluate(async () => {
      const r = await fetch('/chain/301/302/303/307');
      return { status: r.status, redirected: r.redirected, url: r.url, text: await r.text() };
    });
    expect(answer).toMatchObject({
      status: 200,
      redirected: true,
      url: `${zt.siteOrigin}/chain/end`,
    });
    expect(answer.text).toContain('end GET');
    expect(hops(zt, from)).toEqual([
      'GET /chain/301/302/303/307',
      'GET /chain/302/303/307',
      'GET /chain/303/307',
      'GET /chain/307',
      'GET /chain/end',
    ]);
  });

  test('fetch POST keeps method and body through 307 and 308, becomes GET at 303; a 301 turns POST into GET', async ({
    page,
    zt,
  }) => {
    await enter(page, zt, '/start');
    const from = requests(zt).length;
    const answer = await page.evaluate(async () => {
      const r = await fetch('/chain/307/308/303/307', { method: 'POST', body: 'payload' });
      return { redirected: r.redirected, url: r.url, text: await r.text() };
    });
    expect(answer).toMatchObject({ redirected: true, url: `${zt.siteOrigin}/chain/end` });
    expect(answer.text).toContain('end GET');
    expect(hops(zt, from)).toEqual([
      'POST /chain/307/308/303/307 payload',
      'POST /chain/308/303/307 payload',
      'POST /chain/303/307 payload',
      'GET /chain/307',
      'GET /chain/end',
    ]);
    const moved = requests(zt).length;
    const after301 = await page.evaluate(async () => {
      const r = await fetch('/chain/301', { method: 'POST', body: 'payload' });
      return { redirected: r.redirected, text: await r.text() };
    });
    expect(after301.redirected).toBe(true);
    expect(hops(zt, moved)).toEqual(['POST /chain/301 payload', 'GET /chain/end']);
  });
});

test.describe('Set-Cookie variants', () => {
  /** Enters the app and has it set COOKIES_SET in one response. */
  async function withCookies(page: Page, zt: FabricFixture): Promise<void> {
    await enter(page, zt, '/start');
    expect(await page.evaluate(() => fetch('/c/set').then((r) => r.status))).toBe(204);
  }

  test('several Set-Cookie headers in one response all take effect', async ({ page, zt }) => {
    await withCookies(page, zt);
    expect(await cookiesAt(page, '/echo')).toEqual([
      'gone=soon',
      'hidden=http-only-secret',
      'lax=l',
      'none=n',
      'over=first',
      'past=old',
      'strict=s',
    ]);
  });

  test('Path=/a and Path=/b cookies go only to requests under their own path', async ({
    page,
    zt,
  }) => {
    await withCookies(page, zt);
    const only = (pairs: string[]) => pairs.filter((c) => /^p[ab]=/.test(c));
    expect(only(await cookiesAt(page, '/a/echo'))).toEqual(['pa=under-a']);
    expect(only(await cookiesAt(page, '/a/deeper/echo'))).toEqual(['pa=under-a']);
    expect(only(await cookiesAt(page, '/b/echo'))).toEqual(['pb=under-b']);
    expect(only(await cookiesAt(page, '/echo'))).toEqual([]);
    // "/ab" is not under "/a".
    expect(only(await cookiesAt(page, '/ab/echo'))).toEqual([]);
    // document.cookie shows the one of the page's path.
    await page.goto(`${zt.siteOrigin}/a/page`);
    await expect.poll(() => documentCookie(page)).toContain('pa=under-a');
    expect(await documentCookie(page)).not.toContain('pb=under-b');
  });

  test('a later Set-Cookie overwrites a cookie, for the app and for document.cookie', async ({
    page,
    zt,
  }) => {
    await withCookies(page, zt);
    await expect.poll(() => documentCookie(page)).toContain('over=first');
    await page.evaluate(() => fetch('/c/change'));
    expect((await cookiesAt(page, '/echo')).filter((c) => c.startsWith('over='))).toEqual([
      'over=second',
    ]);
    await expect
      .poll(async () => (await documentCookie(page)).filter((c) => c.startsWith('over=')))
      .toEqual(['over=second']);
  });

  test('Max-Age=0 deletes a cookie, for the app and for document.cookie', async ({ page, zt }) => {
    await withCookies(page, zt);
    await expect.poll(() => documentCookie(page)).toContain('gone=soon');
    await page.evaluate(() => fetch('/c/change'));
    expect((await cookiesAt(page, '/echo')).filter((c) => c.startsWith('gone='))).toEqual([]);
    await expect
      .poll(async () => (await documentCookie(page)).filter((c) => c.startsWith('gone=')))
      .toEqual([]);
  });

  test('Expires in the past deletes a cookie, for the app and for document.cookie', async ({
    page,
    zt,
  }) => {
    await withCookies(page, zt);
    await expect.poll(() => documentCookie(page)).toContain('past=old');
    await page.evaluate(() => fetch('/c/change'));
    expect((await cookiesAt(page, '/echo')).filter((c) => c.startsWith('past='))).toEqual([]);
    await expect
      .poll(async () => (await documentCookie(page)).filter((c) => c.startsWith('past=')))
      .toEqual([]);
  });

  test('a Max-Age=2 cookie is sent at first and no longer sent once two seconds pass', async ({
    page,
    zt,
  }) => {
    await enter(page, zt, '/start');
    await page.evaluate(() => fetch('/c/expire-soon'));
    expect(await cookiesAt(page, '/echo')).toContain('short=lived');
    await expect.poll(() => documentCookie(page)).toContain('short=lived');
    await expect
      .poll(() => cookiesAt(page, '/echo'), { timeout: 10_000, message: 'no longer sent' })
      .not.toContain('short=lived');
    await expect
      .poll(() => documentCookie(page), { timeout: 10_000, message: 'no longer shown' })
      .not.toContain('short=lived');
  });

  test("SameSite Strict, Lax and None cookies all go along on the app's own requests and navigations, and are visible to script", async ({
    page,
    zt,
  }) => {
    await withCookies(page, zt);
    const sameSite = (pairs: string[]) => pairs.filter((c) => /^(strict|lax|none)=/.test(c));
    expect(sameSite(await cookiesAt(page, '/echo'))).toEqual(['lax=l', 'none=n', 'strict=s']);
    await page.goto(`${zt.siteOrigin}/nav/echo`);
    const navigation = ((await page.locator('body').textContent()) ?? '')
      .split(';')
      .map((c) => c.trim());
    expect(sameSite(navigation.sort())).toEqual(['lax=l', 'none=n', 'strict=s']);
    await page.goto(`${zt.siteOrigin}/start`);
    await expect
      .poll(async () => sameSite(await documentCookie(page)))
      .toEqual(['lax=l', 'none=n', 'strict=s']);
  });

  test('an HttpOnly cookie goes to the app but is never visible to, nor overwritten by, document.cookie', async ({
    page,
    zt,
  }) => {
    await withCookies(page, zt);
    await expect.poll(() => documentCookie(page)).toContain('over=first');
    expect((await documentCookie(page)).filter((c) => c.startsWith('hidden='))).toEqual([]);
    await page.evaluate(() => {
      // biome-ignore lint/suspicious/noDocumentCookie: a page script trying to overwrite it is the case
      document.cookie = 'hidden=from-script; Path=/';
    });
    expect((await cookiesAt(page, '/echo')).filter((c) => c.startsWith('hidden='))).toEqual([
      'hidden=http-only-secret',
    ]);
    await page.reload();
    expect((await documentCookie(page)).filter((c) => c.startsWith('hidden='))).toEqual([]);
  });
});

test("a nonce-only CSP page (no 'strict-dynamic'): its nonced script fetches and opens a WebSocket through the tunnel, an unnonced one stays blocked", async ({
  page,
  zt,
}) => {
  const cspReports: string[] = [];
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) cspReports.push(m.text());
  });
  const from = await enter(page, zt, '/csp-plain');
  const result = await page.evaluate(
    () =>
      (window as unknown as { cspResult: Promise<{ fetch: string; socket: string }> }).cspResult,
  );
  expect(result).toEqual({ fetch: '200 got from nonce script', socket: 'echo: csp' });
  expect(
    await page.evaluate(() => ({
      shim: '__ztShim' in window,
      unnonced: 'unnoncedRan' in window,
    })),
  ).toEqual({ shim: true, unnonced: false });
  expect(bodiesAt(zt, from, '/api/csp-fetch')).toEqual(['POST from nonce script']);
  expect(requests(zt, from).some((r) => r.url === '/ws-echo')).toBe(true);
  expect(cspReports.filter((t) => t.includes('/__zt/'))).toEqual([]);
});

test.describe("the app's own service-worker calls", () => {
  /** Our worker controls the page and answers its own path; the app answers a fetch. */
  async function expectTunnelled(page: Page, zt: FabricFixture, label: string): Promise<void> {
    const before = requests(zt).length;
    const state = await page.evaluate(async (l) => {
      const status = await fetch('/__zt/sw-status');
      const api = await fetch(`/api/${l}`);
      return {
        controller: navigator.serviceWorker.controller?.scriptURL ?? null,
        worker: status.headers.get('x-zt-sw') !== null,
        api: api.status,
      };
    }, label);
    expect(state, 'our worker controls the page and carries its requests').toEqual({
      controller: `${zt.siteOrigin}/sw.js`,
      worker: true,
      api: 200,
    });
    expect(
      requests(zt)
        .slice(before)
        .map((r) => r.url),
    ).toContain(`/api/${label}`);
  }

  test("registering the app's own worker gets an inert registration that getRegistrations, getRegistration and ready hand back; ours keeps carrying the app", async ({
    page,
    zt,
  }) => {
    await enter(page, zt, '/sw-register');
    const seen = await page.evaluate(
      () => (window as unknown as { appSw: Promise<unknown> }).appSw,
    );
    const scope = `${zt.siteOrigin}/`;
    expect(seen).toEqual({ scope, all: [scope], one: scope, ready: scope });
    await expectTunnelled(page, zt, 'after-register');
    expect(requests(zt).some((r) => r.url === '/app-sw.js')).toBe(false);
    await page.reload();
    await expect(page.locator('#app')).toHaveText('sw register');
    await expectTunnelled(page, zt, 'after-reload');
  });

  test('an app that unregisters every registration getRegistrations() gives it leaves ours in place, and says so once', async ({
    page,
    zt,
  }) => {
    const said: string[] = [];
    page.on('console', (m) => {
      if (m.text().startsWith('[zt]') && /service worker/i.test(m.text())) said.push(m.text());
    });
    await enter(page, zt, '/sw-unregister');
    const result = await page.evaluate(
      () => (window as unknown as { unregistered: Promise<unknown> }).unregistered,
    );
    expect(result, 'the app is handed no registration of ours').toEqual({
      count: 0,
      results: [],
      after: 'none',
    });
    await expectTunnelled(page, zt, 'after-unregister');
    await page.reload();
    await expect(page.locator('#app')).toHaveText('sw unregister');
    await expectTunnelled(page, zt, 'after-reload');
    expect(said.length, 'one [zt] note per page load').toBeGreaterThanOrEqual(1);
  });

  test('navigator.serviceWorker.ready does not hand the app our registration to unregister', async ({
    page,
    zt,
  }) => {
    await enter(page, zt, '/sw-ready');
    expect(
      await page.evaluate(
        () => (window as unknown as { readyUnregistered: Promise<string> }).readyUnregistered,
      ),
    ).toBe('ready never resolved');
    await page.reload();
    await expect(page.locator('#app')).toHaveText('sw ready');
    await expectTunnelled(page, zt, 'after-ready');
  });

  test('if an unregister reaches our registration anyway, the next navigation gets the bootstrap page from the site (its path alone, no cookie or body of the app), which brings the worker back and re-enters the app', async ({
    page,
    zt,
  }) => {
    // An unregister the guard cannot see: the browser's own, kept before any page script runs
    // (as a frame or realm without our shim could reach it).
    await page.addInitScript(() => {
      const w = window as unknown as Record<string, unknown>;
      w.realUnregister = ServiceWorkerRegistration.prototype.unregister;
      w.realGetRegistrations = ServiceWorkerContainer.prototype.getRegistrations;
    });
    const siteHeaders: string[] = [];
    zt.fabric?.site?.on('request', (req: IncomingMessage) =>
      siteHeaders.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)}`),
    );
    await enter(page, zt, '/start');
    await page.evaluate(() => fetch('/c/set'));
    const removed = await page.evaluate(async () => {
      const w = window as unknown as {
        realUnregister: ServiceWorkerRegistration['unregister'];
        realGetRegistrations: ServiceWorkerContainer['getRegistrations'];
      };
      const regs = await w.realGetRegistrations.call(navigator.serviceWorker);
      return Promise.all(regs.map((r) => w.realUnregister.call(r)));
    });
    expect(removed, 'our registration was really removed').toEqual([true]);
    const siteBefore = zt.siteRequests.length;
    const headersBefore = siteHeaders.length;
    await page.goto(`${zt.siteOrigin}/after-unregister`);
    await expect(page.locator('#app')).toHaveText('strange /after-unregister', {
      timeout: 30_000,
    });
    await expectTunnelled(page, zt, 'after-recovery');
    // The site saw that one navigation (no worker was left to take it) and then only our files.
    const site = zt.siteRequests.slice(siteBefore);
    siteFrom = -1;
    expect(
      site.filter((p) => !ours(p)),
      'only the navigation itself reached the static site',
    ).toEqual(['/after-unregister']);
    const sent = siteHeaders.slice(headersBefore).join('\n');
    expect(sent, 'no cookie of the app went along').not.toMatch(/hidden=|over=|strict=|lax=/);
    expect(sent).toMatch(/^GET \/after-unregister /);
  });
});

test('a Basic-protected path of the app asks on our sign-in page and then opens', async ({
  page,
  zt,
}) => {
  await enter(page, zt, '/start');
  await page.goto(`${zt.siteOrigin}/private/page`);
  await page.waitForURL((u) => u.pathname === '/__zt/http-auth', { timeout: 15_000 });
  await expect(page.locator('#realm')).toHaveText(STRANGE_BASIC.realm);
  await page.locator('#user').fill(STRANGE_BASIC.user);
  await page.locator('#password').fill(STRANGE_BASIC.password);
  await page.locator('#submit').click();
  await page.waitForURL(`${zt.siteOrigin}/private/page`, { timeout: 15_000 });
  await expect(page.locator('#app')).toHaveText('private /private/page');
  const sent = requests(zt)
    .filter((r) => r.url === '/private/page')
    .map((r) => r.authorization !== '');
  expect(sent, 'asked without, then with the credentials').toEqual([false, true]);
});
