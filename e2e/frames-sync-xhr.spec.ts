/**
 * What real apps do that a service worker does not see in every browser: synchronous XHR (Chromium
 * never hands it to a worker) and about:blank / srcdoc iframes (no shim in them; Chromium does not
 * let the worker control about:blank). Whatever the browser, nothing meant for the dark app goes out
 * in clear: it is carried through the tunnel, or refused with a `[zt]` console error.
 */
import type { ConsoleMessage, Page } from '@playwright/test';
import { enterApp } from './support/enter-app.ts';
import { expect, ROUTER_HOSTED_APP, test } from './support/fabric.ts';
import type { ProbeRequest } from './support/probe-app.ts';

/** A dark host beside the app, intercepted by its own service (hosted by the router, to the app). */
const SIBLING_HOST = 'sibling.dark.test';

test.use({
  fabricOverrides: {
    services: [
      ROUTER_HOSTED_APP,
      {
        ...ROUTER_HOSTED_APP,
        name: 'sibling',
        configs: {
          'intercept.v1': {
            protocols: ['tcp'],
            addresses: [SIBLING_HOST],
            portRanges: [{ low: 80, high: 80 }],
          },
        },
      },
    ],
  },
});

/** The page's `[zt]` console errors, as they come. */
function ztErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error' && m.text().startsWith('[zt]')) errors.push(m.text());
  });
  return errors;
}

/**
 * Anything sent to the sibling host on the open network is answered here, and recorded. Chromium
 * lists only what would really go out; Firefox's routing also sees requests its worker then
 * answers, so there only the answers (from the app) count.
 */
async function watchLeaks(page: Page): Promise<string[]> {
  const leaked: string[] = [];
  await page.context().route(`http://${SIBLING_HOST}/**`, (route) => {
    leaked.push(route.request().url());
    return route.fulfill({ body: 'LEAKED', headers: { 'access-control-allow-origin': '*' } });
  });
  return leaked;
}

const reached = (zt: { appRequests: readonly unknown[] }) =>
  (zt.appRequests as readonly ProbeRequest[]).map((r) => `${r.host} ${r.method} ${r.url}`);

test('a synchronous XHR goes through the tunnel where the browser allows it, and fails closed where not', async ({
  page,
  zt,
  browserName,
}) => {
  const errors = ztErrors(page);
  const leaked = await watchLeaks(page);
  const url = await enterApp(page, zt, '/strange/sync-xhr');
  const origin = new URL(url).origin;

  const results = await page.evaluate((sibling) => {
    const sync = (u: string, method = 'GET') => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, u, false);
      try {
        xhr.send(method === 'GET' ? null : 'body');
        return `${xhr.status} ${xhr.responseText}`;
      } catch (e) {
        return `${(e as DOMException).name}`;
      }
    };
    return [
      sync('/strange/data?sync=1'),
      sync('/strange/data?sync=1'),
      sync('/strange/data?sync=post', 'POST'),
      sync(`http://${sibling}/strange/data?sync=sibling`),
    ];
  }, SIBLING_HOST);

  if (browserName === 'chromium') {
    expect(results).toEqual(['NetworkError', 'NetworkError', 'NetworkError', 'NetworkError']);
    // One clear error per URL.
    expect(errors).toEqual([
      expect.stringMatching(
        new RegExp(
          `^\\[zt\\] synchronous XMLHttpRequest to ${origin}/strange/data\\?sync=1 cannot go through the zero-trust tunnel in this browser \\(`,
        ),
      ),
      expect.stringContaining(`to ${origin}/strange/data?sync=post cannot go through`),
      expect.stringContaining(`to http://${SIBLING_HOST}/strange/data?sync=sibling cannot go`),
    ]);
    // The probe asked the static site for our own path; nothing of the app went anywhere.
    expect(zt.siteRequests).toContain('/__zt/sw-ping');
    expect(reached(zt).filter((r) => r.includes('?sync='))).toEqual([]);
  } else {
    expect(results).toEqual([
      '200 strange GET /strange/data?sync=1',
      '200 strange GET /strange/data?sync=1',
      '200 strange POST /strange/data?sync=post',
      '200 strange GET /strange/data?sync=sibling',
    ]);
    expect(errors).toEqual([]);
    expect(reached(zt).filter((r) => r.includes('?sync='))).toEqual([
      expect.stringMatching(/ GET \/strange\/data\?sync=1$/),
      expect.stringMatching(/ GET \/strange\/data\?sync=1$/),
      expect.stringMatching(/ POST \/strange\/data\?sync=post$/),
      `${SIBLING_HOST} GET /strange/data?sync=sibling`,
    ]);
  }
  expect(zt.siteRequests.filter((r) => r.startsWith('/strange/data'))).toEqual([]);
  if (browserName === 'chromium') expect(leaked).toEqual([]);
});

test('about:blank and srcdoc frames: fetch, XHR and WebSocket reach the app through the tunnel; what cannot is refused', async ({
  page,
  zt,
  browserName,
}) => {
  const errors = ztErrors(page);
  const leaked = await watchLeaks(page);
  const origin = new URL(await enterApp(page, zt, '/strange/frames')).origin;

  const results = await page.evaluate(async (sibling) => {
    type Results = Record<string, string>;
    /** fetch, XHR, WebSocket and a synchronous XHR from inside `w`, as the app would. */
    const exercise = async (w: Window & typeof globalThis, tag: string): Promise<Results> => {
      const fetched = await w.fetch(`/strange/data?frame=${tag}&via=fetch`).then(
        (r) => r.text(),
        (e: Error) => `failed ${e.name}`,
      );
      const xhr = await new Promise<string>((resolve) => {
        const x = new w.XMLHttpRequest();
        x.open('GET', `/strange/data?frame=${tag}&via=xhr`);
        x.onload = () => resolve(x.responseText);
        x.onerror = () => resolve('failed');
        x.send();
      });
      const socket = await new Promise<string>((resolve) => {
        const ws = new w.WebSocket(`/ws-echo?frame=${tag}`);
        ws.onopen = () => ws.send(`hello from ${tag}`);
        ws.onmessage = (e) => {
          resolve(String(e.data));
          ws.close();
        };
        ws.onerror = () => resolve('failed');
      });
      let sync: string;
      try {
        const x = new w.XMLHttpRequest();
        x.open('GET', `/strange/data?frame=${tag}&via=sync`, false);
        x.send();
        sync = x.responseText;
      } catch (e) {
        sync = (e as DOMException).name;
      }
      return { fetched, xhr, socket, sync };
    };
    /** An image of the app's origin and one of the sibling host, put in the frame's document. */
    const images = async (d: Document, tag: string): Promise<string[]> =>
      Promise.all(
        [
          `/strange/data?frame=${tag}&via=img`,
          `http://${sibling}/strange/data?frame=${tag}&via=img`,
        ].map(
          (src) =>
            new Promise<string>((resolve) => {
              const img = d.createElement('img');
              // Not an image: `error` either way once the answer (or the block) is in.
              img.onerror = img.onload = () => resolve(src);
              img.src = src;
              d.body.append(img);
            }),
        ),
      );

    const out: Record<string, Results> = {};
    // about:blank, the app reaching into it the usual way (contentWindow right after insertion).
    const blank = document.createElement('iframe');
    document.body.append(blank);
    const bw = blank.contentWindow as Window & typeof globalThis;
    out.blank = await exercise(bw, 'blank');
    await images(bw.document, 'blank');

    // about:blank reached through window.frames right after appendChild, no contentWindow.
    document.body.appendChild(document.createElement('iframe'));
    const iw = window.frames[window.frames.length - 1] as Window & typeof globalThis;
    out.indexed = await exercise(iw, 'indexed');

    // srcdoc whose own inline script uses the network as its document is parsed.
    const srcdoc = document.createElement('iframe');
    srcdoc.srcdoc = `<!doctype html><body><script>
      window.done = new Promise((resolve) => {
        const ws = new WebSocket('/ws-echo?frame=srcdoc-inline');
        ws.onopen = () => ws.send('hello from srcdoc-inline');
        ws.onmessage = (e) => { ws.close(); fetch('/strange/data?frame=srcdoc-inline&via=fetch')
          .then((r) => r.text()).then((t) => resolve(String(e.data) + ' / ' + t), () => resolve('failed')); };
        ws.onerror = () => resolve('failed');
      });
    </script>`;
    const loaded = new Promise((resolve) => srcdoc.addEventListener('load', resolve));
    document.body.append(srcdoc);
    await loaded;
    const sw = srcdoc.contentWindow as Window & typeof globalThis & { done: Promise<string> };
    out.srcdocInline = { both: await sw.done };
    out.srcdoc = await exercise(sw, 'srcdoc');
    return out;
  }, SIBLING_HOST);

  // Carried in both browsers: the frames' fetch, XHR and WebSocket reach the app.
  for (const tag of ['blank', 'indexed', 'srcdoc'] as const) {
    expect(results[tag]).toMatchObject({
      fetched: `strange GET /strange/data?frame=${tag}&via=fetch`,
      xhr: `strange GET /strange/data?frame=${tag}&via=xhr`,
      socket: `echo: hello from ${tag}`,
    });
  }
  expect(results.srcdocInline).toEqual({
    both: 'echo: hello from srcdoc-inline / strange GET /strange/data?frame=srcdoc-inline&via=fetch',
  });
  const app = reached(zt).filter((r) => r.includes('frame='));
  for (const path of [
    '/strange/data?frame=blank&via=fetch',
    '/strange/data?frame=blank&via=xhr',
    '/ws-echo?frame=blank',
    '/strange/data?frame=indexed&via=fetch',
    '/ws-echo?frame=indexed',
    '/ws-echo?frame=srcdoc-inline',
    '/strange/data?frame=srcdoc-inline&via=fetch',
    '/strange/data?frame=srcdoc&via=fetch',
    '/strange/data?frame=srcdoc&via=xhr',
    '/ws-echo?frame=srcdoc',
  ])
    expect(app.filter((r) => r.endsWith(` GET ${path}`))).toHaveLength(1);

  if (browserName === 'chromium') {
    // Synchronous XHR is refused as in the page itself; the blank frame's images (not controlled
    // there) are blocked with an error, the app's own and the sibling's alike.
    expect(results.blank?.sync).toBe('NetworkError');
    expect(results.indexed?.sync).toBe('NetworkError');
    expect(results.srcdoc?.sync).toBe('NetworkError');
    await expect.poll(() => errors.length).toBe(5);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringContaining(
          `synchronous XMLHttpRequest to ${origin}/strange/data?frame=blank&via=sync cannot go through the zero-trust tunnel`,
        ),
        expect.stringContaining(
          `synchronous XMLHttpRequest to ${origin}/strange/data?frame=indexed&via=sync cannot go through the zero-trust tunnel`,
        ),
        expect.stringContaining(
          `synchronous XMLHttpRequest to ${origin}/strange/data?frame=srcdoc&via=sync cannot go through the zero-trust tunnel`,
        ),
        expect.stringContaining(
          `[zt] ${origin}/strange/data?frame=blank&via=img requested from an about:blank frame cannot go through the zero-trust tunnel`,
        ),
        expect.stringContaining(
          `[zt] http://${SIBLING_HOST}/strange/data?frame=blank&via=img requested from an about:blank frame cannot go through the zero-trust tunnel`,
        ),
      ]),
    );
    expect(app.filter((r) => r.includes('via=sync') || r.includes('via=img'))).toEqual([]);
  } else {
    // Firefox lets the worker control these frames: images and synchronous XHR go through it too.
    expect(results.blank?.sync).toBe('strange GET /strange/data?frame=blank&via=sync');
    expect(results.indexed?.sync).toBe('strange GET /strange/data?frame=indexed&via=sync');
    expect(results.srcdoc?.sync).toBe('strange GET /strange/data?frame=srcdoc&via=sync');
    expect(app).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/ GET \/strange\/data\?frame=blank&via=img$/),
        `${SIBLING_HOST} GET /strange/data?frame=blank&via=img`,
      ]),
    );
    expect(errors).toEqual([]);
  }
  expect(zt.siteRequests.filter((r) => r.includes('frame='))).toEqual([]);
  if (browserName === 'chromium') expect(leaked).toEqual([]);
});
