/**
 * Measurement, not a test (it takes minutes): does a tunnelled WebSocket survive a long idle period,
 * with and without the shim's keep-alive messages to the service worker? Run with
 *   npx tsx e2e/websocket/measure-keepalive.ts [idleSeconds=45] [chromium|firefox]
 * For each browser and mode it opens a socket, stays idle, then reports whether the socket is still
 * open and echoes. "without" drops the shim's `WORKER_KEEPALIVE` messages (the per-socket heartbeat on
 * the MessagePort still runs, which shows whether port traffic alone keeps the worker alive).
 */
import { type BrowserType, chromium, firefox } from '@playwright/test';
import { WORKER_KEEPALIVE } from '../../shared/page-worker/names.ts';
import { browsers, chromiumArgs } from '../browsers.ts';
import { startWebSocketFixture } from './fixture.ts';

const idle = Number(process.argv[2] ?? 45);
const fx = await startWebSocketFixture();
const kinds: [string, BrowserType, object][] = [
  ['chromium', chromium, { executablePath: browsers.chromium.path, args: chromiumArgs }],
  ['firefox', firefox, { executablePath: browsers.firefox.path, channel: 'moz-firefox' }],
];
const only = process.argv[3];
try {
  for (const [name, type, launch] of kinds) {
    if (only && name !== only) continue;
    for (const keepAlive of [true, false]) {
      const browser = await type.launch(launch);
      const page = await browser.newPage();
      await page.goto(`${fx.origin}/setup.html`);
      await page.waitForSelector('html[data-ready="1"]');
      await page.goto(`${fx.origin}/app.html`);
      await page.waitForFunction(() => !!navigator.serviceWorker.controller);
      if (!keepAlive) {
        await page.evaluate(`{
          const post = ServiceWorker.prototype.postMessage;
          ServiceWorker.prototype.postMessage = function (m, t) {
            if (m && m.type === ${JSON.stringify(WORKER_KEEPALIVE)}) return;
            return post.call(this, m, t);
          };
        }`);
      }
      await page.evaluate(`new Promise((r) => {
        window.sock = new WebSocket('ws://127.0.0.1:${fx.port}/echo');
        window.ztClosed = null;
        sock.onclose = (e) => { window.ztClosed = e.code; };
        sock.onopen = r;
      })`);
      await page.waitForTimeout(idle * 1000);
      const result = await page.evaluate(`new Promise((r) => {
        if (window.ztClosed !== null) return r('closed ' + window.ztClosed);
        const t = setTimeout(() => r('no echo'), 5000);
        sock.onmessage = (e) => { clearTimeout(t); r('echo ' + e.data); };
        sock.send('still here');
      })`);
      console.log(`${name} keepAlive=${keepAlive} idle=${idle}s: ${result}`);
      await browser.close();
    }
  }
} finally {
  await fx.close();
}
