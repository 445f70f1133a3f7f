/**
 * Mattermost fidelity suite, run directly against the demo app (no tunnel) to prove the suite
 * itself is right. The flows live in ./mattermost/flows.ts and take the base URL, so the same
 * flows run through the OpenZiti tunnel elsewhere.
 */
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { type DemoApp, startDemoApp } from '../fabric/demo-app/index.ts';
import {
  ALICE,
  assertAppCsp,
  bigFileRoundTrip,
  contentHash,
  cookiesReloadLogout,
  csrfIsSentAndRequired,
  imageThumbnailAndProfile,
  loginViaUi,
  recordDocuments,
  twoUsersChat,
} from './mattermost/flows.ts';

const BIG_FILE_BYTES = 200 * 1024 * 1024;

let app: DemoApp;
let dataDir: string;

test.beforeAll(async () => {
  const ui = join(import.meta.dirname, '../fabric/demo-app/web/dist/index.html');
  if (!existsSync(ui)) throw new Error('the demo chat UI is not built: run `npm run build:demo`');
  dataDir = await mkdtemp(join(tmpdir(), 'mattermost-e2e-'));
  app = await startDemoApp({ host: '127.0.0.1', port: 0, dataDir });
  // Its Site URL is where the browser reaches it, as Mattermost is configured.
  app.setSiteUrl(app.url);
});
test.afterAll(async () => {
  await app?.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('two users chat: each sees the other within 1 s via the websocket', async ({ browser }) => {
  const from = app.requests.length;
  const contexts = [await browser.newContext(), await browser.newContext()];
  const docLists = contexts.map((c) => recordDocuments(c));
  const [alice, bob] = await Promise.all(contexts.map((c) => c.newPage()));
  const latency = await twoUsersChat(alice!, bob!, app.url);
  test.info().annotations.push({ type: 'latency', description: JSON.stringify(latency) });
  expect(latency.aliceToBobMs).toBeLessThan(1000);
  expect(latency.bobToAliceMs).toBeLessThan(1000);
  await assertAppCsp(docLists.flat());
  // Both posts and both websocket upgrades reached the app, with the browser's own headers.
  const seen = app.requests.slice(from);
  const posts = seen.filter((r) => r.method === 'POST' && r.url === '/api/v4/posts');
  expect(posts.length).toBeGreaterThanOrEqual(2);
  for (const p of posts) expect(p.headers['x-csrf-token']).toMatch(/^[a-z0-9]{26}$/);
  const upgrades = seen.filter((r) => r.upgrade && r.url.startsWith('/api/v4/websocket?'));
  expect(upgrades.length).toBeGreaterThanOrEqual(2);
  for (const u of upgrades) {
    expect(u.headers.origin).toBe(app.url);
    expect(u.headers.cookie).toContain('MMAUTHTOKEN=');
    expect(u.url).toMatch(/connection_id=.*&sequence_number=\d+/);
  }
  await Promise.all(contexts.map((c) => c.close()));
});

test('CSRF header is sent by the app and required by the server (strict CSRF)', async ({
  page,
}) => {
  expect(app.settings.strictCsrf).toBe(true);
  await loginViaUi(page, app.url, ALICE);
  const from = app.requests.length;
  const result = await csrfIsSentAndRequired(page, app.url, { strictCsrf: true });
  const refused = app.requests
    .slice(from)
    .filter((r) => r.method === 'POST' && r.url === '/api/v4/posts' && !r.headers['x-csrf-token']);
  expect(refused.length).toBe(1);
  expect(result.refusedStatus).toBe(401);
});

test("CSRF with Mattermost's default: X-Requested-With alone passes, no header is refused", async ({
  page,
}) => {
  await loginViaUi(page, app.url, ALICE);
  app.settings.strictCsrf = false;
  try {
    expect((await csrfIsSentAndRequired(page, app.url, { strictCsrf: false })).refusedStatus).toBe(
      401,
    );
  } finally {
    app.settings.strictCsrf = true;
  }
});

test('cookies: MMAUTHTOKEN hidden from script, reload keeps the session, logout expires it', async ({
  page,
}) => {
  const docs = recordDocuments(page.context());
  await loginViaUi(page, app.url, ALICE);
  await cookiesReloadLogout(page, app.url);
  expect(await assertAppCsp(docs)).toBeGreaterThanOrEqual(3);
});

test('upload 200 MiB with progress, download with Range resume, checksums match', async ({
  page,
}) => {
  test.setTimeout(240_000);
  await loginViaUi(page, app.url, ALICE);
  const result = await bigFileRoundTrip(page, app.url, BIG_FILE_BYTES);
  // The stored bytes hash the same in Node: the page's hash function is the shared one.
  const chunks: Uint8Array[] = [];
  let onDisk = '';
  {
    const stream = createReadStream(join(dataDir, 'files', result.fileId, 'data'), {
      highWaterMark: 8 * 1024 * 1024,
    });
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    onDisk = contentHash(chunks);
    chunks.length = 0;
  }
  expect(onDisk).toBe(result.generatedHash);
  test.info().annotations.push({
    type: 'big-file',
    description: JSON.stringify({
      uploadMs: Math.round(result.uploadMs),
      downloadMs: Math.round(result.downloadMs),
      progressSteps: result.progressValues.length,
      resumedAt: result.resumedAt,
    }),
  });
  const ranged = app.requests.filter((r) => r.headers.range?.startsWith('bytes='));
  expect(ranged.at(-1)?.headers.range).toBe(`bytes=${result.resumedAt}-`);
});

test('image thumbnail renders at its natural size; profile image loads', async ({ page }) => {
  await loginViaUi(page, app.url, ALICE);
  const sizes = await imageThumbnailAndProfile(page);
  expect(sizes).toEqual({ thumbnail: [120, 90], profile: [128, 128] });
});

test('the app CSP arrives unchanged on every HTML response', async ({ page }) => {
  const docs = recordDocuments(page.context());
  for (const path of ['/', '/login', '/demo/channels/town-square', '/some/deep/link?x=1']) {
    await page.goto(`${app.url}${path}`);
  }
  expect(await assertAppCsp(docs)).toBe(4);
  // An inline script is blocked by that CSP: the app's own page runs, injected inline code does not.
  const ran = await page.evaluate(async () => {
    const s = document.createElement('script');
    s.textContent = 'window.__inline = 1';
    document.head.append(s);
    await new Promise((r) => setTimeout(r, 50));
    return (window as unknown as { __inline?: number }).__inline ?? 0;
  });
  expect(ran).toBe(0);
});
