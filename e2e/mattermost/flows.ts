/**
 * Mattermost fidelity flows, written against the demo app's UI and API but parameterised by the
 * base URL, so the same code runs directly against the app and through the OpenZiti tunnel.
 * Each flow asserts what it can see from the browser and returns measurements for the caller.
 *
 * Through the tunnel, pass the public base URL and pages whose context has already finished the
 * bootstrap (IdP login, service worker in control); give `cookiesReloadLogout` the option
 * `{ browserCookieStore: false }`, since the service worker keeps the app's cookies in its own jar.
 * Everything else is the same: the flows only use the app's UI, `fetch` from the page and
 * `document.cookie`, which is what the unmodified app itself can see.
 */
import { type BrowserContext, expect, type Page, type Response } from '@playwright/test';

/**
 * Mattermost's CSP header for its pages (a space before the semicolon, as Mattermost writes it),
 * which must arrive unchanged on every HTML response; the demo app sends the same.
 */
export const APP_CSP = "frame-ancestors 'self' ; script-src 'self'";

export interface Account {
  username: string;
  password: string;
}

export const ALICE: Account = { username: 'alice', password: 'alice-demo-pass' };
export const BOB: Account = { username: 'bob', password: 'bob-demo-pass' };

/** Collects every HTML document response of a context, for the CSP check. */
export function recordDocuments(context: BrowserContext): Response[] {
  const docs: Response[] = [];
  context.on('response', (res) => {
    if (res.request().resourceType() === 'document') docs.push(res);
  });
  return docs;
}

/** Every HTML response carries the app's own CSP header and `X-Frame-Options: SAMEORIGIN`. */
export async function assertAppCsp(docs: Response[]): Promise<number> {
  expect(docs.length).toBeGreaterThan(0);
  for (const res of docs) {
    const headers = await res.allHeaders();
    if (!(headers['content-type'] ?? '').startsWith('text/html')) continue;
    expect(headers['content-security-policy'], res.url()).toBe(APP_CSP);
    expect(headers['x-frame-options'], res.url()).toBe('SAMEORIGIN');
  }
  return docs.length;
}

export async function loginViaUi(page: Page, baseURL: string, account: Account): Promise<void> {
  await page.goto(`${baseURL}/login`);
  await expect(page.locator('#login-view')).toBeVisible();
  await expect(page.locator('meta[http-equiv="Content-Security-Policy"]')).toHaveAttribute(
    'content',
    "script-src 'self'",
  );
  await page.locator('#login-id').fill(account.username);
  await page.locator('#password').fill(account.password);
  await page.locator('#login-submit').click();
  await expect(page.locator('#chat-view')).toBeVisible();
  await expect(page.locator('#me-name')).toHaveText(account.username);
  await expect(page.locator('#ws-status')).toHaveText('live');
}

/**
 * Posts through the composer and measures, with the pages' own clocks (one machine), from the
 * submit to the moment the other page's DOM shows the post (a MutationObserver, so the figure does
 * not depend on Playwright's polling).
 */
async function sendAndSeeOnOtherPage(from: Page, to: Page, text: string): Promise<number> {
  await to.evaluate((wanted) => {
    const w = window as unknown as { __seenAt?: Promise<number> };
    w.__seenAt = new Promise<number>((resolve) => {
      const list = document.getElementById('posts')!;
      const observer = new MutationObserver(() => {
        for (const node of list.querySelectorAll('.post-message')) {
          if (node.textContent === wanted) {
            observer.disconnect();
            resolve(Date.now());
            return;
          }
        }
      });
      observer.observe(list, { childList: true, subtree: true });
    });
  }, text);
  await from.locator('#message-input').fill(text);
  const sentAt = await from.evaluate(() => {
    const at = Date.now();
    (document.getElementById('composer') as HTMLFormElement).requestSubmit();
    return at;
  });
  await expect(to.locator('.post-message', { hasText: text })).toBeVisible({ timeout: 5000 });
  const seenAt = await to.evaluate(
    () => (window as unknown as { __seenAt: Promise<number> }).__seenAt,
  );
  return seenAt - sentAt;
}

/**
 * Two users in two browser contexts chat in Town Square; each sees the other's post within 1 s
 * without reloading. Returns both latencies in milliseconds.
 */
export async function twoUsersChat(
  alicePage: Page,
  bobPage: Page,
  baseURL: string,
): Promise<{ aliceToBobMs: number; bobToAliceMs: number }> {
  await loginViaUi(alicePage, baseURL, ALICE);
  await loginViaUi(bobPage, baseURL, BOB);
  const tag = Math.random().toString(36).slice(2, 8);
  const aliceToBobMs = await sendAndSeeOnOtherPage(alicePage, bobPage, `hi bob ${tag}`);
  const bobToAliceMs = await sendAndSeeOnOtherPage(bobPage, alicePage, `hi alice ${tag}`);
  // The sender sees their own post once (API response and websocket event are merged).
  await expect(alicePage.locator('.post-message', { hasText: `hi bob ${tag}` })).toHaveCount(1);
  return { aliceToBobMs, bobToAliceMs };
}

/**
 * The app's writes carry X-CSRF-Token equal to the MMCSRF cookie, and a cookie-authenticated write
 * without it, but with `X-Requested-With: XMLHttpRequest`, is refused with 401 under strict CSRF
 * enforcement (the refusal also expires MMAUTHTOKEN, which ends the page's session) and let through
 * with Mattermost's default (`strictCsrf: false`). Expects a logged-in page.
 */
export async function csrfIsSentAndRequired(
  page: Page,
  baseURL: string,
  { strictCsrf = true }: { strictCsrf?: boolean } = {},
): Promise<{ sentHeader: string; refusedStatus: number }> {
  const request = page.waitForRequest(
    (r) => r.method() === 'POST' && new URL(r.url()).pathname === '/api/v4/posts',
  );
  await page.locator('#message-input').fill('csrf probe');
  await page.locator('#message-input').press('Enter');
  const sent = await request;
  const csrfCookie = await page.evaluate(() =>
    document.cookie
      .split('; ')
      .find((c) => c.startsWith('MMCSRF='))
      ?.slice('MMCSRF='.length),
  );
  const sentHeader = (await sent.allHeaders())['x-csrf-token'] ?? '';
  expect(csrfCookie).toBeTruthy();
  expect(sentHeader).toBe(csrfCookie);
  expect((await sent.response())?.status()).toBe(201);
  const forge = (headers: Record<string, string>, message: string) =>
    page.evaluate(
      async ({ base, headers, message }) => {
        const channelId = document.querySelector<HTMLElement>('#channel-list button.active')
          ?.dataset.channelId;
        const res = await fetch(`${base}/api/v4/posts`, {
          method: 'POST',
          credentials: 'include',
          headers: { 'Content-Type': 'application/json', ...headers },
          body: JSON.stringify({ channel_id: channelId, message }),
        });
        return res.status;
      },
      { base: baseURL, headers, message },
    );
  const me = () =>
    page.evaluate(
      async (base) => (await fetch(`${base}/api/v4/users/me`, { credentials: 'include' })).status,
      baseURL,
    );
  if (!strictCsrf) {
    // Mattermost's default: the XHR marker alone passes; without either header it is refused.
    expect(await forge({ 'X-Requested-With': 'XMLHttpRequest' }, 'marked')).toBe(201);
    await expect(page.locator('.post-message', { hasText: 'marked' })).toHaveCount(1);
    const refusedStatus = await forge({}, 'forged');
    expect(refusedStatus).toBe(401);
    await expect(page.locator('.post-message', { hasText: 'forged' })).toHaveCount(0);
    expect(await me()).toBe(401);
    return { sentHeader, refusedStatus };
  }
  const refusedStatus = await forge({ 'X-Requested-With': 'XMLHttpRequest' }, 'forged');
  expect(refusedStatus).toBe(401);
  await expect(page.locator('.post-message', { hasText: 'forged' })).toHaveCount(0);
  // The refusal expired MMAUTHTOKEN: the page's session is over (MMCSRF stays readable).
  expect(await me()).toBe(401);
  return { sentHeader, refusedStatus };
}

export interface CookieFlowOptions {
  /**
   * Whether the app's cookies live in the browser's own cookie store (direct access). Through the
   * tunnel the service worker keeps them in its jar, so only what page script sees is checked.
   */
  browserCookieStore?: boolean;
}

/**
 * MMAUTHTOKEN stays HttpOnly (never in document.cookie) while MMUSERID and MMCSRF are readable;
 * a reload keeps the session; logout ends it, expiring MMAUTHTOKEN only (MMUSERID and MMCSRF stay,
 * as Mattermost leaves them). Expects a logged-in page.
 */
export async function cookiesReloadLogout(
  page: Page,
  baseURL: string,
  { browserCookieStore = true }: CookieFlowOptions = {},
): Promise<void> {
  const visible = async () =>
    (await page.evaluate(() => document.cookie))
      .split('; ')
      .filter(Boolean)
      .map((c) => c.slice(0, c.indexOf('=')))
      .sort();
  expect(await visible()).toEqual(['MMCSRF', 'MMUSERID']);
  if (browserCookieStore) {
    const jar = await page.context().cookies(baseURL);
    expect(jar.find((c) => c.name === 'MMAUTHTOKEN')?.httpOnly).toBe(true);
    expect(jar.find((c) => c.name === 'MMCSRF')?.httpOnly).toBe(false);
  }

  await page.reload();
  await expect(page.locator('#chat-view')).toBeVisible();
  await expect(page.locator('#ws-status')).toHaveText('live');

  await page.locator('#logout').click();
  await expect(page.locator('#login-view')).toBeVisible();
  expect(await visible()).toEqual(['MMCSRF', 'MMUSERID']);
  if (browserCookieStore) {
    expect((await page.context().cookies(baseURL)).map((c) => c.name)).not.toContain('MMAUTHTOKEN');
  }
  const status = await page.evaluate(
    async (base) => (await fetch(`${base}/api/v4/users/me`, { credentials: 'include' })).status,
    baseURL,
  );
  expect(status).toBe(401);
  await page.reload();
  await expect(page.locator('#login-view')).toBeVisible();
}

/**
 * A fast 64-bit content hash (two 32-bit lanes, FNV-1a and a multiply-xorshift), byte by byte so
 * chunk boundaries do not matter. The page computes the same function (see the flows below).
 */
export function contentHash(chunks: Iterable<Uint8Array>): string {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++) {
      const v = chunk[i]!;
      a = Math.imul(a ^ v, 0x01000193);
      b = Math.imul(b + v + 1, 0x5bd1e995);
      b ^= b >>> 15;
    }
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

export interface BigFileResult {
  fileId: string;
  size: number;
  generatedHash: string;
  downloadedHash: string;
  progressValues: number[];
  uploadMs: number;
  resumedAt: number;
  resumeStatus: number;
  contentRange: string;
  downloadMs: number;
}

export interface UploadedFile {
  fileId: string;
  /** `contentHash` of the generated bytes. */
  generatedHash: string;
  /** The upload bar's values, in order. */
  progressValues: number[];
  uploadMs: number;
}

/**
 * Uploads a generated (incompressible) file of `size` bytes, `name`, through the UI (XHR with
 * progress) and waits for its post. Expects a logged-in page.
 */
export async function uploadGeneratedFile(
  page: Page,
  size: number,
  name = 'big.bin',
): Promise<UploadedFile> {
  // Generate the file in the page, in chunks, hashing as it goes; hand it to the file input.
  const generatedHash = await page.evaluate(
    async ({ total, name }) => {
      const chunkSize = 4 * 1024 * 1024;
      const parts: Uint8Array[] = [];
      let a = 0x811c9dc5;
      let b = 0x9747b28c;
      let x = 0x12345678;
      for (let off = 0; off < total; off += chunkSize) {
        const n = Math.min(chunkSize, total - off);
        const bytes = new Uint8Array(n);
        const words = new Uint32Array(bytes.buffer, 0, n >>> 2);
        for (let i = 0; i < words.length; i++) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          words[i] = x >>> 0;
        }
        for (let i = 0; i < n; i++) {
          const v = bytes[i]!;
          a = Math.imul(a ^ v, 0x01000193);
          b = Math.imul(b + v + 1, 0x5bd1e995);
          b ^= b >>> 15;
        }
        parts.push(bytes);
      }
      const file = new File(parts as BlobPart[], name, { type: 'application/octet-stream' });
      const progress: number[] = [];
      (window as unknown as { __progress: number[] }).__progress = progress;
      const bar = document.getElementById('upload-progress') as HTMLProgressElement;
      new MutationObserver(() => {
        if (progress.at(-1) !== bar.value) progress.push(bar.value);
      }).observe(bar, { attributes: true, attributeFilter: ['value'] });
      const input = document.getElementById('file-input') as HTMLInputElement;
      const transfer = new DataTransfer();
      transfer.items.add(file);
      input.files = transfer.files;
      (window as unknown as { __uploadStart: number }).__uploadStart = performance.now();
      input.dispatchEvent(new Event('change', { bubbles: true }));
      return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
    },
    { total: size, name },
  );

  const link = page.locator('.post .file-download', { hasText: name }).last();
  await expect(link).toBeVisible({ timeout: 150_000 });
  const uploadMs = await page.evaluate(
    () => performance.now() - (window as unknown as { __uploadStart: number }).__uploadStart,
  );
  const progressValues = await page.evaluate(
    () => (window as unknown as { __progress: number[] }).__progress,
  );
  const fileId =
    (await page
      .locator('.post .file', { has: page.locator('.file-download', { hasText: name }) })
      .last()
      .getAttribute('data-file-id')) ?? '';
  expect(fileId).toMatch(/^[a-z0-9]{26}$/);
  return { fileId, generatedHash, progressValues, uploadMs };
}

export interface HashedDownload {
  status: number;
  /** Bytes read by this call. */
  length: number;
  contentRange: string;
  /** `contentHash` of every byte read, this call's after those of `state`. */
  hash: string;
  /** Where the hash stands, to go on from in a later call. */
  state: [number, number];
}

/**
 * Reads a download in the page and hashes it as `contentHash` does: `url` fetched (from byte
 * `from` on, with Range), or with `url` null the download `holdDownload` kept; to the end, or
 * cancelled once `stopAfter` bytes were read; the hash going on from `state`.
 */
export function downloadHash(
  page: Page,
  opts: { url: string | null; from?: number; stopAfter?: number; state?: [number, number] },
): Promise<HashedDownload> {
  return page.evaluate(async ({ url, from, stopAfter, state }) => {
    type Held = {
      reader: ReadableStreamDefaultReader<Uint8Array>;
      first: Uint8Array;
      status: number;
      contentRange: string;
    };
    const w = window as unknown as { heldDownload?: Held };
    let held = w.heldDownload!;
    if (url !== null) {
      const response = await fetch(url, {
        credentials: 'include',
        headers: from === undefined ? {} : { Range: `bytes=${from}-` },
      });
      held = {
        reader: response.body!.getReader(),
        first: new Uint8Array(0),
        status: response.status,
        contentRange: response.headers.get('content-range') ?? '',
      };
    }
    let [a, b] = state ?? [0x811c9dc5, 0x9747b28c];
    let length = 0;
    const eat = (chunk: Uint8Array) => {
      for (let i = 0; i < chunk.length; i++) {
        const v = chunk[i]!;
        a = Math.imul(a ^ v, 0x01000193);
        b = Math.imul(b + v + 1, 0x5bd1e995);
        b ^= b >>> 15;
      }
      length += chunk.length;
    };
    eat(held.first);
    while (stopAfter === undefined || length < stopAfter) {
      const { value, done } = await held.reader.read();
      if (done) break;
      eat(value);
    }
    if (stopAfter !== undefined) await held.reader.cancel();
    const hash = (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
    const { status, contentRange } = held;
    return { status, length, contentRange, hash, state: [a, b] as [number, number] };
  }, opts);
}

/** Fetches `url` in the page and keeps its reader and first bytes, reading nothing more. */
export function holdDownload(page: Page, url: string): Promise<void> {
  return page.evaluate(async (url) => {
    const response = await fetch(url, { credentials: 'include' });
    const reader = response.body!.getReader();
    const first = await reader.read();
    (window as unknown as { heldDownload: unknown }).heldDownload = {
      reader,
      first: first.value ?? new Uint8Array(0),
      status: response.status,
      contentRange: response.headers.get('content-range') ?? '',
    };
  }, url);
}

/**
 * Uploads a generated file of `size` bytes through the UI (XHR with progress), then downloads it
 * back with fetch, stopping after a third and resuming with `Range`. Expects a logged-in page.
 */
export async function bigFileRoundTrip(
  page: Page,
  baseURL: string,
  size: number,
): Promise<BigFileResult> {
  const { fileId, generatedHash, progressValues, uploadMs } = await uploadGeneratedFile(page, size);

  const url = `${baseURL}/api/v4/files/${fileId}?download=1`;
  const started = performance.now();
  const first = await downloadHash(page, { url, stopAfter: size / 3 });
  expect(first.status).toBe(200);
  // Interrupt, as a dropped connection would, then resume from where we stopped.
  const resumedAt = first.length;
  const second = await downloadHash(page, { url, from: resumedAt, state: first.state });
  const downloadMs = performance.now() - started;
  expect(resumedAt + second.length).toBe(size);
  expect(second.status).toBe(206);
  expect(second.contentRange).toBe(`bytes ${resumedAt}-${size - 1}/${size}`);
  expect(second.hash).toBe(generatedHash);
  // The bar advanced through several intermediate values up to 100.
  const intermediate = progressValues.filter((v) => v > 0 && v < 100);
  expect(intermediate.length).toBeGreaterThanOrEqual(3);
  expect(progressValues).toEqual([...progressValues].sort((p, q) => p - q));
  expect(progressValues.at(-1)).toBe(100);
  return {
    fileId,
    size,
    generatedHash,
    downloadedHash: second.hash,
    progressValues,
    uploadMs,
    resumedAt,
    resumeStatus: second.status,
    contentRange: second.contentRange,
    downloadMs,
  };
}

/**
 * Uploads an 800x600 PNG drawn on a canvas; its thumbnail renders at Mattermost's size (120x90:
 * width 120 for a picture wider than tall); the user's profile image loads (128x128). Expects a
 * logged-in page.
 */
export async function imageThumbnailAndProfile(
  page: Page,
): Promise<{ thumbnail: [number, number]; profile: [number, number] }> {
  await page.evaluate(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 800;
    canvas.height = 600;
    const ctx = canvas.getContext('2d')!;
    const grad = ctx.createLinearGradient(0, 0, 800, 600);
    grad.addColorStop(0, '#1e325c');
    grad.addColorStop(1, '#f5a623');
    ctx.fillStyle = grad;
    ctx.fillRect(0, 0, 800, 600);
    ctx.fillStyle = '#fff';
    ctx.beginPath();
    ctx.arc(400, 300, 150, 0, Math.PI * 2);
    ctx.fill();
    const blob = await new Promise<Blob>((resolve) =>
      canvas.toBlob((b) => resolve(b!), 'image/png'),
    );
    const input = document.getElementById('file-input') as HTMLInputElement;
    const transfer = new DataTransfer();
    transfer.items.add(new File([blob], 'picture.png', { type: 'image/png' }));
    input.files = transfer.files;
    input.dispatchEvent(new Event('change', { bubbles: true }));
  });
  const thumb = page.locator('.post img.thumb[alt="picture.png"]').last();
  await expect(thumb).toBeVisible({ timeout: 15_000 });
  await expect
    .poll(() => thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
    .toBeTruthy();
  const thumbnail = await thumb.evaluate((img: HTMLImageElement) => [
    img.naturalWidth,
    img.naturalHeight,
  ]);
  expect(thumbnail).toEqual([120, 90]);
  const avatar = page.locator('#me-avatar');
  await expect
    .poll(() => avatar.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
    .toBeTruthy();
  const profile = await avatar.evaluate((img: HTMLImageElement) => [
    img.naturalWidth,
    img.naturalHeight,
  ]);
  expect(profile).toEqual([128, 128]);
  return { thumbnail: thumbnail as [number, number], profile: profile as [number, number] };
}
