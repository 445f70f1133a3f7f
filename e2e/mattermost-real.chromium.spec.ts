/**
 * A page that stops reading a large Mattermost attachment, over the fabric and OpenZiti's network.
 * Mattermost gzips it (its default WebserverMode) without byte ranges. The worker queues the
 * download until the page is 32 MiB behind, then closes the connection; once the page reads
 * again, the download goes on with the plain bytes from the decoded count (sw/tunnel/resumable.ts).
 *
 * Chromium only: Firefox takes a worker's response as fast as the worker gives it, whether or not
 * the page reads (e2e/resumed-download.chromium.spec.ts).
 */

import { BACKLOG_BYTES } from '../sw/tunnel/resumable.ts';
import {
  ALICE,
  downloadHash,
  holdDownload,
  loginViaUi,
  uploadGeneratedFile,
} from './mattermost/flows.ts';
import { tunnelledPage } from './mattermost/tunnel-tests.ts';
import { expect, test } from './support/fabric.ts';
import { continuationStarts } from './support/file-body.ts';
import { type AppRequestRecord, mattermostUnavailable } from './support/mattermost.ts';

test.use({ darkApp: 'mattermost' });
test.beforeAll(() => {
  const unavailable = mattermostUnavailable();
  if (unavailable) throw new Error(unavailable);
});

const MiB = 1024 * 1024;
const SIZE = 384 * MiB;

test('an attachment the page stops reading goes on with the plain bytes after the worker closed its connection 32 MiB behind', async ({
  context,
  zt,
}) => {
  test.setTimeout(300_000);
  const page = await tunnelledPage(context, zt);
  await loginViaUi(page, zt.siteOrigin, ALICE);
  const file = await uploadGeneratedFile(page, SIZE, 'held.bin');
  // A Last-Modified is a validator only once it is a second older than the answer's Date.
  await page.waitForTimeout(1100);
  const from = zt.appRequests.length;
  const downloads = () =>
    (zt.appRequests.slice(from) as unknown as readonly AppRequestRecord[]).filter((r) =>
      r.url.startsWith(`/api/v4/files/${file.fileId}?`),
    );
  await holdDownload(page, `/api/v4/files/${file.fileId}?download=1`);
  await expect.poll(() => downloads()[0]?.sent, { timeout: 120_000 }).toBe('cut');
  expect(await downloadHash(page, { url: null })).toMatchObject({
    status: 200,
    length: SIZE,
    hash: file.generatedHash,
  });
  const [whole, ...rest] = downloads();
  expect(whole!.headers['accept-encoding']).toBe('gzip, deflate');
  expect(rest.map((r) => r.headers['accept-encoding'])).toEqual(rest.map(() => 'identity'));
  // If-Range carries the download's Last-Modified (Mattermost's ETag names the gzipped bytes).
  const lastModified = rest[0]?.headers['if-range'] ?? '';
  expect(Date.parse(lastModified)).not.toBeNaN();
  const [resumedAt] = continuationStarts(
    downloads().map((r) => ({
      range: r.headers.range ?? '',
      ifRange: r.headers['if-range'] ?? '',
      ...(r.sent ? { sent: r.sent } : {}),
    })),
    lastModified,
    SIZE,
  );
  // The page had what the browser took from the worker, and the worker's 32 MiB, not 256.
  expect(resumedAt).toBeGreaterThan(BACKLOG_BYTES);
  expect(resumedAt).toBeLessThan(256 * MiB);
});
