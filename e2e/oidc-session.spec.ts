/**
 * OIDC API sessions (the way OpenZiti 2.x HA controllers require): the browser logs in through
 * the controller's own OpenID provider with the IdP's token, holds a short-lived access token and
 * a single-use refresh token, refreshes before expiry and tells every open router channel the new
 * token (UpdateToken), so open circuits outlive the tokens they were opened with. Runs against the
 * fabric and OpenZiti's own network (`npm run test:real -- --grep oidc` runs the oidc-*.spec.ts).
 */
import { DEFAULT_IDLE_TIMEOUT_MS } from '../shared/http/constants.ts';
import { enterApp } from './support/enter-app.ts';
import { expect, test } from './support/fabric.ts';
import { claimsOf, storedSession } from './support/oidc.ts';

const MiB = 1024 * 1024;
const DOWNLOAD = 100 * MiB;

// The fabric's tokens live 6 s (refresh due at 4 s); OpenZiti's at least a minute (due at 40 s).
test.use({
  fabricOverrides: { controller: { host: '127.0.0.1', port: 0, oidcAccessTokenSeconds: 6 } },
  openzitiOptions: { accessTokenDuration: '1m' },
});

test('oidc: login through the controller; a chat WebSocket and a 100 MiB download stay open across two token refreshes', async ({
  page,
  zt,
}) => {
  const real = zt.network === 'openziti';
  test.setTimeout(real ? 240_000 : 90_000);
  await enterApp(page, zt, '/start');
  const first = await storedSession(page);
  expect(first.oidc).toBe(true);
  const claims = claimsOf(first.token);
  expect(claims.z_t).toBe('a');
  expect(typeof claims.z_asid).toBe('string');

  // The app's WebSocket and a download, both opened with the first token. The app sends the
  // download's 64 KiB chunks with a pause after each, so that it lasts longer than two refreshes
  // (fabric: 1600 x 10 ms = 16 s; OpenZiti: 1600 x 60 ms = 96 s), and the page reads it as it
  // comes, checking every byte.
  await page.evaluate(
    async ({ size, pauseMs }) => {
      const w = window as unknown as Record<string, unknown>;
      const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws-echo`);
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error('the WebSocket did not open'));
      });
      // A socket that closes rejects the echo with its code and reason, rather than leaving it unanswered.
      let closed = '';
      ws.addEventListener('close', (e) => {
        closed = `the WebSocket closed (${e.code} ${e.reason || 'no reason'}, clean: ${e.wasClean})`;
      });
      w.echo = (text: string) =>
        new Promise<string>((resolve, reject) => {
          if (closed) return reject(new Error(closed));
          const onClose = () => reject(new Error(closed));
          const silent = setTimeout(
            () => reject(new Error(`no echo within 30 s (bufferedAmount ${ws.bufferedAmount})`)),
            30_000,
          );
          ws.addEventListener('close', onClose, { once: true });
          ws.addEventListener(
            'message',
            (e) => {
              ws.removeEventListener('close', onClose);
              clearTimeout(silent);
              resolve(String(e.data));
            },
            { once: true },
          );
          ws.send(text);
        });
      const response = await fetch(`/bytes?n=${size}&pauseMs=${pauseMs}`);
      const reader = response.body!.getReader();
      const download = { received: 0, mismatches: 0, done: false };
      w.download = download;
      w.downloaded = (async () => {
        // The probe app's xorshift32 stream (e2e/support/probe-app.ts), checked word by word.
        let seed = 1;
        let carry = new Uint8Array(0);
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          download.received += value.byteLength;
          const bytes = new Uint8Array(carry.length + value.length);
          bytes.set(carry);
          bytes.set(value, carry.length);
          const whole = bytes.length - (bytes.length % 4);
          const words = new DataView(bytes.buffer, 0, whole);
          for (let i = 0; i < whole; i += 4) {
            seed ^= seed << 13;
            seed ^= seed >>> 17;
            seed ^= seed << 5;
            if (words.getUint32(i, true) !== seed >>> 0) download.mismatches++;
          }
          carry = bytes.slice(whole);
        }
        download.done = true;
        return { received: download.received, mismatches: download.mismatches };
      })();
    },
    { size: DOWNLOAD, pauseMs: real ? 60 : 10 },
  );
  const download = () =>
    page.evaluate(
      () => (window as unknown as { download: { received: number; done: boolean } }).download,
    );
  // What the worker says of its session and upkeep, and how far the download got, tell a stalled
  // refresh from a failed one and a dead channel from a lost message.
  const explained = async (err: Error): Promise<never> => {
    const worker = await page
      .evaluate(async () => (await fetch('/__zt/sw-status')).text())
      .catch((e: Error) => e.message);
    const got = await download().catch((e: Error) => e.message);
    throw new Error(`${err.message}\ndownload: ${JSON.stringify(got)}\nworker: ${worker}`);
  };
  const echo = (text: string) =>
    page
      .evaluate((t) => (window as unknown as { echo(t: string): Promise<string> }).echo(t), text)
      .catch(explained);
  expect(await echo('before')).toBe('echo: before');

  // Two refreshes: three access tokens of the same API session, while the download streams.
  const seen = [first.token];
  await expect
    .poll(
      async () => {
        const now = (await storedSession(page)).token;
        if (!seen.includes(now)) seen.push(now);
        return seen.length;
      },
      { timeout: real ? 150_000 : 30_000, intervals: [500] },
    )
    .toBeGreaterThanOrEqual(3)
    .catch(explained);
  const during = await download();
  expect(during.done).toBe(false);
  expect(during.received).toBeGreaterThan(0);
  for (const token of seen) expect(claimsOf(token).z_asid).toBe(claims.z_asid);
  // The first token has expired by now: what works from here on works on a refreshed one.
  expect(Date.now() / 1000).toBeGreaterThan(claims.exp as number);

  expect(await echo('after two refreshes')).toBe('echo: after two refreshes');
  const done = await page
    .evaluate(
      () =>
        (window as unknown as { downloaded: Promise<{ received: number; mismatches: number }> })
          .downloaded,
    )
    .catch(explained);
  expect(done).toEqual({ received: DOWNLOAD, mismatches: 0 });
  // A new circuit on the same router channel (once the worker's idle keep-alive connections
  // are gone): OpenZiti's controller, asked by the router to create it, and the fabric's router
  // refuse one for the channel's first token, which has expired.
  await page.waitForTimeout(DEFAULT_IDLE_TIMEOUT_MS + 1_000);
  const fresh = await page.evaluate(
    async () => (await fetch(`/start?after-refresh=${Date.now()}`, { cache: 'no-store' })).status,
  );
  expect(fresh).toBe(200);
});
