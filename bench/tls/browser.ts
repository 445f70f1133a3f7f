/**
 * Runs `worker-entry.ts` in a worker started from a page of the fixture's origin (a worker is the
 * kind of thread the product's TLS runs on: its service worker), and calls into it.
 *
 * A shared worker rather than a dedicated one: Playwright attaches to a page's dedicated workers
 * and turns on Chromium's network inspection in them, which copies every WebSocket frame into the
 * automation pipe (the cost bench/support/browsers.ts turns off for the service worker); in a
 * dedicated worker that cut Chromium's raw WebSocket download to a third. Playwright leaves shared
 * workers alone, as a person's browser runs the service worker.
 */
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { classicScript } from '../support/bundle.ts';
import type * as WorkerEntry from './worker-entry.ts';

type Entry = typeof WorkerEntry;

export type WorkerCall = <K extends keyof Entry>(
  fn: K,
  ...args: Parameters<Entry[K]>
) => Promise<Awaited<ReturnType<Entry[K]>>>;

/** Starts the worker from `page` (already at the fixture's origin); returns a caller into it. */
export async function startTlsWorker(page: Page): Promise<WorkerCall> {
  const code = await classicScript(join(import.meta.dirname, 'worker-entry.ts'), 'tlsBench');
  await page.evaluate((code) => {
    const source = `${code}
onconnect = (c) => {
  c.ports[0].onmessage = async (e) => {
    const reply = e.ports[0];
    try {
      reply.postMessage({ ok: true, result: await tlsBench[e.data.fn](...e.data.args) });
    } catch (err) {
      reply.postMessage({ ok: false, error: String((err && err.stack) || err) });
    }
  };
};`;
    const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    const worker = new SharedWorker(url);
    worker.onerror = () => console.error('TLS bench worker failed to start');
    (globalThis as unknown as { tlsBenchWorker: MessagePort }).tlsBenchWorker = worker.port;
  }, code);
  return ((fn: string, ...args: unknown[]) =>
    page.evaluate(
      ({ fn, args }) =>
        new Promise((resolve, reject) => {
          const channel = new MessageChannel();
          channel.port1.onmessage = (e) =>
            e.data.ok ? resolve(e.data.result) : reject(new Error(e.data.error));
          (globalThis as unknown as { tlsBenchWorker: MessagePort }).tlsBenchWorker.postMessage(
            { fn, args },
            [channel.port2],
          );
        }),
      { fn, args },
    )) as WorkerCall;
}
