/**
 * The app's WebSocket through the product's worker and tunnel outlives a page that handles nothing
 * for longer than the socket's heartbeat timeout (a heavy app's long task; a background tab's
 * throttled timers are the same silence): the worker asks the browser whether the page still
 * exists instead of taking silence for a closed tab (shared/page-worker/websocket-port.ts).
 */
import { HEARTBEAT_TIMEOUT_MS } from '../shared/page-worker/websocket-port.ts';
import { enterApp } from './support/enter-app.ts';
import { expect, test } from './support/fabric.ts';

test('a page busy for longer than the heartbeat timeout keeps its tunnelled WebSocket', async ({
  page,
  zt,
}) => {
  await enterApp(page, zt, '/start');
  await page.evaluate(async () => {
    const w = window as unknown as { chat: WebSocket; closed?: string };
    const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws-echo`);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error('the WebSocket did not open'));
    });
    ws.addEventListener('close', (e) => {
      w.closed = `${e.code} ${e.reason}`;
    });
    w.chat = ws;
  });
  await page.evaluate((ms) => {
    const end = Date.now() + ms;
    while (Date.now() < end);
  }, HEARTBEAT_TIMEOUT_MS + 2_000);
  // A few heartbeat periods after the long task, for either end to have acted on it.
  await page.waitForTimeout(2_000);
  const after = await page.evaluate(async () => {
    const w = window as unknown as { chat: WebSocket; closed?: string };
    if (w.closed) return `closed ${w.closed}`;
    return new Promise<string>((resolve) => {
      w.chat.onmessage = (e) => resolve(String(e.data));
      w.chat.onclose = (e) => resolve(`closed ${e.code} ${e.reason}`);
      w.chat.send('after the long task');
    });
  });
  expect(after).toBe('echo: after the long task');
});
