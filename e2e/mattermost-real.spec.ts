/**
 * The mattermost-tunnel tests against Mattermost's own server (PostgreSQL + `mattermost` built by
 * mattermost/build-mattermost.sh, the demo chat UI as its webapp, strict CSRF), through the tunnel
 * on the fabric and on OpenZiti's network (`npm run test:e2e` and `test:real` build it first), and
 * what only the real server can show.
 */

import { RANGE_BYTES, STALL_MS } from '../sw/tunnel/resumable.ts';
import { ALICE, downloadHash, loginViaUi, uploadGeneratedFile } from './mattermost/flows.ts';
import { tunnelledPage, tunnelTests } from './mattermost/tunnel-tests.ts';
import { expect, test } from './support/fabric.ts';
import { type AppRequestRecord, mattermostUnavailable } from './support/mattermost.ts';

test.use({ darkApp: 'mattermost' });
test.beforeAll(() => {
  const unavailable = mattermostUnavailable();
  if (unavailable) throw new Error(unavailable);
});

// 64 MiB rather than the demo tier's 200 MiB keeps this slower tier short.
tunnelTests({ server: "Mattermost's own server", bigFileBytes: 64 * 1024 * 1024 });

/**
 * Mattermost gzips a whole file download for a client that accepts gzip (its default
 * WebserverMode), without byte ranges. When the connection of such a download ends half-way, the
 * worker asks for the rest of the plain file from the count of decoded bytes the page had, starting
 * up to 64 KiB early to check that those bytes agree (sw/tunnel/resumable.ts).
 *
 * On OpenZiti's network the worker learns of the end only from silence (e2e/resumed-download.spec.ts).
 */
test('an attachment download whose connection ends half-way goes on with the plain bytes, every byte intact', async ({
  context,
  zt,
}) => {
  test.setTimeout(STALL_MS + 120_000);
  const SIZE = 8 * 1024 * 1024;
  /** Where the recording proxy ends the gzipped answer's connection, in bytes of gzip. */
  const CUT = 5 * 1024 * 1024 + 12_345;
  const page = await tunnelledPage(context, zt);
  await loginViaUi(page, zt.siteOrigin, ALICE);
  const file = await uploadGeneratedFile(page, SIZE, 'cut.bin');
  // A Last-Modified is a validator for If-Range only once it is a second older than the answer's
  // Date (RFC 9110 §13.1.5); Mattermost dates the file by its upload.
  await page.waitForTimeout(1100);
  const from = zt.appRequests.length;
  const got = await downloadHash(page, {
    url: `/api/v4/files/${file.fileId}?download=1&cutAt=${CUT}`,
  });
  expect(got).toMatchObject({ status: 200, length: SIZE, hash: file.generatedHash });

  const [whole, rest, ...more] = (
    zt.appRequests.slice(from) as unknown as readonly AppRequestRecord[]
  ).filter((r) => r.url.includes('cutAt='));
  expect(more).toEqual([]);
  expect([whole!.headers['accept-encoding'], whole!.headers.range, whole!.sent]).toEqual([
    'gzip, deflate',
    undefined,
    'cut',
  ]);
  expect(rest!.headers['accept-encoding']).toBe('identity');
  expect(rest!.headers['if-range']).toMatch(/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
  expect(rest!.sent).toBe('whole');
  // From at most 64 KiB before the decoded bytes the page had, which were fewer than were sent.
  // One range of 16 MiB (sw/tunnel/resumable.ts) asks for all that is left of 8 MiB.
  const [, resumedAt, last] = (/^bytes=(\d+)-(\d+)$/.exec(rest!.headers.range ?? '') ?? []).map(
    Number,
  );
  expect(resumedAt).toBeGreaterThan(0);
  expect(last! - resumedAt! + 1).toBe(RANGE_BYTES);
  expect(resumedAt).toBeLessThan(CUT - 64 * 1024);
});
