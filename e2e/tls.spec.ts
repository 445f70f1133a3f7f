/**
 * The TLS 1.3 client inside a browser page and inside a service worker, against a Node TLS server
 * that requires a client certificate, over a WebSocket bridge; the client key is a
 * non-extractable WebCrypto key made in the browser.
 */
import { expect, test } from '@playwright/test';
import { startTlsHarness, type TlsHarness } from './tls/harness.ts';

declare global {
  interface Window {
    tlsTest: typeof import('./tls/client-entry.ts');
    inServiceWorker(fn: string, ...args: unknown[]): Promise<unknown>;
  }
}

type RunResult = Awaited<ReturnType<typeof import('./tls/client-entry.ts').run>>;

let harness: TlsHarness;
test.beforeAll(async () => {
  harness = await startTlsHarness();
});
test.afterAll(async () => {
  await harness?.close();
});

const checkResult = (r: RunResult, bytes: number) => {
  expect(r.extractable).toBe(false);
  expect(r.keyType).toBe('private');
  expect(r.cipherSuite).toMatch(
    /^TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)$/,
  );
  expect(['x25519', 'secp256r1']).toContain(r.group);
  expect(r.echoed).toBe(bytes);
  expect(r.match).toBe(true);
};

test('TLS 1.3 with a non-extractable client key inside a page', async ({ page }) => {
  await page.goto(harness.origin);
  const bytes = 3 * 1024 * 1024 + 123;
  const r = await page.evaluate((p) => window.tlsTest.run(p), harness.params(bytes));
  checkResult(r, bytes);
  expect(r.context).toBe('window');
});

test('TLS 1.3 with a non-extractable client key inside a service worker', async ({ page }) => {
  await page.goto(harness.origin);
  const bytes = 1024 * 1024 + 7;
  const r = (await page.evaluate(
    (p) => window.inServiceWorker('run', p),
    harness.params(bytes),
  )) as RunResult;
  checkResult(r, bytes);
  expect(r.context).toBe('service-worker');
});
