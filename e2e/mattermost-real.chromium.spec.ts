/**
 * A page that stops reading a large Mattermost attachment, over the fabric and OpenZiti's network.
 * Mattermost gzips it (its default WebserverMode) without byte ranges. The worker queues the
 * download until the page is 256 MiB behind, then closes the connection; once the page reads
 * again, the download goes on with the plain bytes from the decoded count (sw/tunnel/resumable.ts).
 *
 * Chromium only: Firefox takes a worker's response as fast as the worker gives it, whether or not
 * the page reads (e2e/resumed-download.chromium.spec.ts).
 */
import {
  ALICE,
  downloadHash,
  holdDownload,
  loginViaUi,
  uploadGeneratedFile,
} from './mattermost/flows.ts';
import { tunnelledPage } from './mattermost/tunnel-tests.ts';
import { expect, test } from './support/fabric.ts';
import { type AppRequestRecord, mattermostUnavailable } from './support/mattermost.ts';

test.use({ darkApp: 'mattermost' });
test.beforeAll(() => {
  const unavailable = mattermostUnavailable();
  if (unavailable) throw new Error(unavailable);
});

const MiB = 1024 * 1024;
const SIZE = 384 * MiB;

test('an attachment the page stops reading goes on with the plain bytes after the worker closed its connection 256 MiB behind', async ({
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
  const [whole, rest, ...more] = downloads();
  expect(more).toEqual([]);
  expect([whole!.headers['accept-encoding'], whole!.headers.range]).toEqual([
    'gzip, deflate',
    undefined,
  ]);
  expect([rest!.headers['accept-encoding'], rest!.sent]).toEqual(['identity', 'whole']);
  const resumedAt = Number(/^bytes=(\d+)-$/.exec(rest!.headers.range ?? '')?.[1]);
  expect(resumedAt).toBeGreaterThan(256 * MiB);
  expect(resumedAt).toBeLessThan(SIZE);
});
