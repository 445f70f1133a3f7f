/**
 * The page shim's WebSocket in real Chromium and Firefox: the test page is controlled by a test
 * service worker running the real bridge and RFC 6455 client (e2e/websocket/test-sw.ts); sockets to
 * 127.0.0.1 are tunnelled, sockets to `localhost` (same server) use the browser's own WebSocket.
 */
import { expect, type Page, test } from '@playwright/test';
import { startWebSocketFixture, type WebSocketFixture } from './websocket/fixture.ts';

let fx: WebSocketFixture;
test.beforeAll(async () => {
  fx = await startWebSocketFixture();
});
test.afterAll(async () => {
  await fx?.close();
});

async function openApp(page: Page): Promise<void> {
  await page.goto(`${fx.origin}/setup.html`);
  await expect(page.locator('html')).toHaveAttribute('data-ready', '1');
  await page.goto(`${fx.origin}/app.html`);
  await page.waitForFunction(() => !!navigator.serviceWorker.controller && '__ztShim' in window);
}

const tunnelled = () => `ws://127.0.0.1:${fx.port}`;
const direct = () => `ws://localhost:${fx.port}`;

/** Everything an app can observe of the WebSocket API, as plain data. Runs in the page. */
async function conformance(
  page: Page,
  base: string,
  native: boolean,
): Promise<Record<string, unknown>> {
  return page.evaluate(
    async ([base, native]) => {
      const host = new URL(base).host;
      const norm = (s: string) => s.split(host).join('HOST');
      const err = (f: () => unknown) => {
        try {
          f();
          return 'none';
        } catch (e) {
          return `${(e as Error).constructor.name}:${(e as Error).name}`;
        }
      };
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      // The browser's own class sits behind ours in the prototype chain; class-level behaviour is
      // compared between the two classes, socket behaviour between the two URLs.
      const W: typeof WebSocket = native
        ? Object.getPrototypeOf(WebSocket.prototype).constructor
        : WebSocket;
      const t: Record<string, unknown> = {};
      t.isNative = W !== WebSocket;
      t.constants = [
        W.CONNECTING,
        W.OPEN,
        W.CLOSING,
        W.CLOSED,
        W.prototype.OPEN,
        W.prototype.CLOSED,
      ];
      t.ctor = { name: W.name, length: W.length, str: String(W).replace(/\s+/g, ' ') };
      t.ctorErrors = {
        scheme: err(() => new W(`ftp://${host}/echo`)),
        fragment: err(() => new W(`${base}/echo#x`)),
        emptyFragment: err(() => new W(`${base}/echo#`)),
        dupProto: err(() => new W(`${base}/echo`, ['a', 'a'])),
        badProto: err(() => new W(`${base}/echo`, 'a b')),
        emptyProto: err(() => new W(`${base}/echo`, '')),
        noArgs: err(() => new (W as unknown as new () => WebSocket)()),
      };
      const ws = new W(`${base}/echo?q=1`, ['chat', 'x']);
      t.initial = {
        readyState: ws.readyState,
        url: norm(ws.url),
        protocol: ws.protocol,
        extensions: ws.extensions,
        binaryType: ws.binaryType,
        bufferedAmount: ws.bufferedAmount,
        instanceOf: ws instanceof W,
        tag: Object.prototype.toString.call(ws),
        instanceConstants: [ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED],
        onopen: ws.onopen,
      };
      t.sendWhileConnecting = err(() => ws.send('x'));
      const log: string[] = [];
      for (const type of ['open', 'message', 'error', 'close']) {
        ws.addEventListener(type, () => log.push(type));
      }
      await new Promise((r) => {
        ws.onopen = r;
      });
      t.afterOpen = { readyState: ws.readyState, protocol: ws.protocol, extensions: ws.extensions };
      const next = () =>
        new Promise<MessageEvent>((r) =>
          ws.addEventListener('message', (e) => r(e), { once: true }),
        );
      let p = next();
      ws.send('héllo ✓');
      t.bufferedAfterTextSend = ws.bufferedAmount;
      let e = await p;
      t.text = {
        ctor: e.constructor.name,
        type: e.type,
        data: e.data,
        origin: norm(e.origin),
        lastEventId: e.lastEventId,
        ports: e.ports.length,
        source: e.source,
      };
      p = next();
      ws.send(new Uint8Array([1, 2, 3]));
      e = await p;
      const blob = e.data as Blob;
      t.blob = {
        isBlob: blob instanceof Blob,
        size: blob.size,
        type: blob.type,
        bytes: [...new Uint8Array(await blob.arrayBuffer())],
      };
      ws.binaryType = 'arraybuffer';
      p = next();
      ws.send(new Uint16Array([0x0102, 0x0304]).subarray(1));
      e = await p;
      t.arraybuffer = {
        isAB: e.data instanceof ArrayBuffer,
        bytes: [...new Uint8Array(e.data as ArrayBuffer)],
      };
      ws.binaryType = 'bogus' as BinaryType;
      t.binaryTypeAfterBogus = ws.binaryType;
      p = next();
      ws.send(new Blob(['from a blob']));
      e = await p;
      t.blobSent = new TextDecoder().decode(e.data as ArrayBuffer);
      await sleep(50);
      t.bufferedDrained = ws.bufferedAmount;
      t.closeErrors = {
        c1001: err(() => ws.close(1001)),
        c999: err(() => ws.close(999)),
        c5000: err(() => ws.close(5000)),
        longReason: err(() => ws.close(1000, 'é'.repeat(62))),
        state: ws.readyState,
      };
      const closed = new Promise<CloseEvent>((r) =>
        ws.addEventListener('close', (ev) => r(ev), { once: true }),
      );
      ws.close(4000, 'bye ✓');
      t.stateAfterClose = ws.readyState;
      t.sendAfterClose = err(() => ws.send('after'));
      t.bufferedAfterClose = ws.bufferedAmount;
      const c = await closed;
      t.close = {
        ctor: c.constructor.name,
        code: c.code,
        reason: c.reason,
        wasClean: c.wasClean,
        state: ws.readyState,
      };
      t.closeAgain = err(() => ws.close());
      t.log = log.join(',');

      const b = new W(`${base}/bye`);
      const bc = await new Promise<CloseEvent>((r) => {
        b.onclose = r;
      });
      t.serverClose = [bc.code, bc.reason, bc.wasClean];

      const refusedEvents: string[] = [];
      const rf = new W(`${base}/refuse`);
      rf.onerror = (ev) => refusedEvents.push(`error:${ev.constructor.name}`);
      await new Promise<void>((r) => {
        rf.onclose = (ev) => {
          refusedEvents.push(`close:${ev.code}:${ev.wasClean}:${rf.readyState}`);
          r();
        };
      });
      t.refused = refusedEvents;

      const early: string[] = [];
      const d = new W(`${base}/echo`);
      d.onopen = () => early.push('open');
      d.onerror = () => early.push('error');
      const dc = new Promise<void>((r) => {
        d.onclose = (ev) => {
          early.push(`close:${ev.code}:${ev.wasClean}`);
          r();
        };
      });
      d.close();
      early.push(`state:${d.readyState}`);
      await dc;
      await sleep(100);
      t.closeWhileConnecting = early;

      const f = new W(`${base}/echo`);
      await new Promise((r) => {
        f.onopen = r;
      });
      const fc = await new Promise<CloseEvent>((r) => {
        f.onclose = r;
        f.close();
      });
      t.closeWithoutCode = [fc.code, fc.reason, fc.wasClean];
      return t;
    },
    [base, native] as const,
  );
}

test('the WebSocket API behaves identically to the browser’s own (conformance table)', async ({
  page,
}) => {
  await openApp(page);
  const ours = await conformance(page, tunnelled(), false);
  const theirs = await conformance(page, direct(), true);
  expect([ours.isNative, theirs.isNative]).toEqual([false, true]);
  delete ours.isNative;
  delete theirs.isNative;
  expect(ours).toEqual(theirs);
  // And the table is what the standard says (so "identical" is not "identically broken").
  expect(ours.constants).toEqual([0, 1, 2, 3, 1, 3]);
  expect(ours.close).toMatchObject({ code: 4000, reason: 'bye ✓', wasClean: true, state: 3 });
  expect(ours.serverClose).toEqual([4321, 'server bye', true]);
  expect(ours.afterOpen).toEqual({ readyState: 1, protocol: 'chat', extensions: '' });
  // The tunnelled socket really is ours, the direct one really is the browser's.
  const kinds = await page.evaluate(
    ([a, b]) => {
      const x = new WebSocket(`${a}/echo`);
      const y = new WebSocket(`${b}/echo`);
      const r = [
        Object.getPrototypeOf(x) === WebSocket.prototype,
        Object.getPrototypeOf(y) === WebSocket.prototype,
      ];
      x.close();
      y.close();
      return r;
    },
    [tunnelled(), direct()],
  );
  expect(kinds).toEqual([true, false]);
});

test('tunnelled: 1 byte to 16 MiB echoed intact, 10,000 messages in order', async ({ page }) => {
  test.setTimeout(120_000);
  await openApp(page);
  const sizes = await page.evaluate(async (base) => {
    const ws = new WebSocket(`${base}/echo`);
    ws.binaryType = 'arraybuffer';
    await new Promise((r) => {
      ws.onopen = r;
    });
    const ok: number[] = [];
    for (const size of [1, 125, 126, 65535, 65536, 1024 * 1024 + 1, 16 * 1024 * 1024]) {
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i++) data[i] = (i * 31 + size) & 0xff;
      const got = await new Promise<ArrayBuffer>((r) => {
        ws.onmessage = (e) => r(e.data as ArrayBuffer);
        ws.send(data);
      });
      const g = new Uint8Array(got);
      if (g.length === size && g.every((v, i) => v === data[i])) ok.push(size);
    }
    const text = `${'x'.repeat(3 * 1024 * 1024)}✓`;
    const echoed = await new Promise<string>((r) => {
      ws.onmessage = (e) => r(e.data as string);
      ws.send(text);
    });
    if (echoed === text) ok.push(-1);
    const n = 10_000;
    const got: number[] = [];
    await new Promise<void>((r) => {
      ws.onmessage = (e) => {
        got.push(Number(e.data));
        if (got.length === n) r();
      };
      for (let i = 0; i < n; i++) ws.send(String(i));
    });
    if (got.every((v, i) => v === i)) ok.push(n);
    ws.close(1000);
    return ok;
  }, tunnelled());
  expect(sizes).toEqual([1, 125, 126, 65535, 65536, 1024 * 1024 + 1, 16 * 1024 * 1024, -1, 10_000]);
});

test('the service worker stopped: open sockets close with 1006, the next socket works', async ({
  page,
  browserName,
  context,
}) => {
  await openApp(page);
  await page.evaluate((base) => {
    const w = window as unknown as { zt: { code?: number; wasClean?: boolean; opened?: boolean } };
    w.zt = {};
    const ws = new WebSocket(`${base}/echo`);
    ws.onopen = () => {
      w.zt.opened = true;
    };
    ws.onclose = (e) => {
      w.zt.code = e.code;
      w.zt.wasClean = e.wasClean;
    };
  }, tunnelled());
  await page.waitForFunction(() => (window as unknown as { zt: { opened?: boolean } }).zt.opened);
  if (browserName === 'chromium') {
    const cdp = await context.newCDPSession(page);
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.stopAllWorkers');
  } else {
    // Firefox cannot be told to stop a service worker (no CDP, and unregistering does not stop a
    // worker that controls a page). The test worker instead goes silent on every bridge port,
    // which is what the page observes when its worker is stopped.
    await page.evaluate(
      () =>
        new Promise<void>((r) => {
          navigator.serviceWorker.addEventListener('message', () => r(), { once: true });
          navigator.serviceWorker.controller?.postMessage({ type: 'zt-test-die' });
        }),
    );
  }
  await page.waitForFunction(
    () => (window as unknown as { zt: { code?: number } }).zt.code !== undefined,
    undefined,
    { timeout: 15_000 },
  );
  expect(await page.evaluate(() => (window as unknown as { zt: unknown }).zt)).toEqual({
    opened: true,
    code: 1006,
    wasClean: false,
  });
  if (browserName !== 'chromium') {
    await page.evaluate(
      () =>
        new Promise<void>((r) => {
          navigator.serviceWorker.addEventListener('message', () => r(), { once: true });
          navigator.serviceWorker.controller?.postMessage({ type: 'zt-test-revive' });
        }),
    );
  }
  const echoed = await page.evaluate(async (base) => {
    const ws = new WebSocket(`${base}/echo`);
    await new Promise((r) => {
      ws.onopen = r;
    });
    const m = await new Promise<string>((r) => {
      ws.onmessage = (e) => r(e.data as string);
      ws.send('again');
    });
    ws.close();
    return m;
  }, tunnelled());
  expect(echoed).toBe('again');
});

test('a page busy for 6 s (one long task) keeps its sockets: it is slow, not gone', async ({
  page,
}) => {
  await openApp(page);
  await page.evaluate(async (base) => {
    const w = window as unknown as { zt: { ws?: WebSocket; closed?: string } };
    w.zt = {};
    const ws = new WebSocket(`${base}/echo`);
    await new Promise((r) => {
      ws.onopen = r;
    });
    ws.onclose = (e) => {
      w.zt.closed = `${e.code} ${e.reason}`;
    };
    w.zt.ws = ws;
  }, tunnelled());
  // Longer than the heartbeat timeout: neither the page's heartbeats nor the worker's answers
  // are handled meanwhile. A heavy app's long task, or a background tab's throttled timers,
  // look the same to the worker and to the page's own liveness check.
  await page.evaluate(() => {
    const end = Date.now() + 6_000;
    while (Date.now() < end);
  });
  await page.waitForTimeout(2_000);
  const after = await page.evaluate(async () => {
    const { ws, closed } = (window as unknown as { zt: { ws: WebSocket; closed?: string } }).zt;
    if (closed) return `closed ${closed}`;
    return new Promise<string>((r) => {
      ws.onmessage = (e) => r(String(e.data));
      ws.onclose = (e) => r(`closed ${e.code} ${e.reason}`);
      ws.send('still here');
    });
  });
  expect(after).toBe('still here');
});

test('XHR upload progress: increasing loaded for a 50 MiB upload answered by the SW', async ({
  page,
}) => {
  test.setTimeout(120_000);
  await openApp(page);
  const r = await page.evaluate(async () => {
    const size = 50 * 1024 * 1024;
    const body = new Blob([new Uint8Array(size)]);
    const xhr = new XMLHttpRequest();
    const events: [string, number, number, boolean][] = [];
    for (const type of ['loadstart', 'progress', 'load', 'loadend']) {
      xhr.upload.addEventListener(type, (e) => {
        const p = e as ProgressEvent;
        events.push([type, p.loaded, p.total, p.lengthComputable]);
      });
    }
    xhr.open('POST', '/upload');
    const done = new Promise<string>((res) => {
      xhr.onloadend = () => res(xhr.responseText);
    });
    xhr.send(body);
    const response = await done;
    return { events, response, size };
  });
  expect(JSON.parse(r.response)).toEqual({ received: r.size });
  const progress = r.events.filter((e) => e[0] === 'progress');
  expect(progress.length).toBeGreaterThanOrEqual(5);
  for (let i = 1; i < progress.length; i++) {
    expect(progress[i]![1]).toBeGreaterThanOrEqual(progress[i - 1]![1]);
  }
  expect(progress[0]![1]).toBeLessThan(r.size);
  expect(progress.at(-1)).toEqual(['progress', r.size, r.size, true]);
  const types = r.events.map((e) => e[0]);
  expect(types.slice(-2)).toEqual(['load', 'loadend']);
  expect(types.filter((t) => t === 'load')).toHaveLength(1);
});

test('document.cookie bridge: the jar’s visible cookies, synchronous reads, writes to the jar', async ({
  page,
}) => {
  await openApp(page);
  await page.goto(`${fx.origin}/cookie.html`);
  await page.waitForFunction(() => '__ztShim' in window);
  const r = await page.evaluate(async () => {
    const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
    const first = document.cookie;
    // biome-ignore lint/suspicious/noDocumentCookie: the bridge under test is document.cookie
    document.cookie = 'theme=dark; Path=/';
    const afterWrite = document.cookie;
    // biome-ignore lint/suspicious/noDocumentCookie: the bridge under test is document.cookie
    document.cookie = 'MMCSRF=; Max-Age=0; Path=/';
    const afterDelete = document.cookie;
    // biome-ignore lint/suspicious/noDocumentCookie: the bridge under test is document.cookie
    document.cookie = 'sneaky=1; HttpOnly';
    const afterHttpOnly = document.cookie;
    await sleep(300);
    const jar = await (await fetch('/__zt-test/jar')).text();
    const settled = document.cookie;
    await fetch('/__zt-test/set-cookie');
    let later = document.cookie;
    for (let i = 0; i < 50 && !later.includes('fresh=1'); i++) {
      await sleep(20);
      later = document.cookie;
    }
    return { first, afterWrite, afterDelete, afterHttpOnly, jar, settled, later };
  });
  expect(r).toEqual({
    first: 'MMUSERID=u1; MMCSRF=c1',
    afterWrite: 'MMUSERID=u1; MMCSRF=c1; theme=dark',
    afterDelete: 'MMUSERID=u1; theme=dark',
    afterHttpOnly: 'MMUSERID=u1; theme=dark',
    jar: 'MMAUTHTOKEN=secret; MMUSERID=u1; theme=dark',
    settled: 'MMUSERID=u1; theme=dark',
    later: 'MMUSERID=u1; theme=dark; fresh=1',
  });
});
