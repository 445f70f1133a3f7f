/**
 * A page that stops reading a large download. Nothing pushes back on the router (sw/tunnel/tunnel.ts
 * says why), so the worker queues the download until the page is 32 MiB behind (a download that cannot
 * resume: 256 MiB), then closes the connection; the bytes it holds still reach the page, and the
 * download goes on with a Range request once the page reads again (sw/tunnel/resumable.ts).
 * Before, the page's read failed there.
 *
 * Chromium only: Firefox takes a worker's response from it as fast as the worker gives, whether or
 * not the page reads (bench/README.md), so the worker's own queue never reaches its limit there.
 */

import { BACKLOG_BYTES } from '../sw/tunnel/resumable.ts';
import { enterApp } from './support/enter-app.ts';
import { expect, test } from './support/fabric.ts';
import { continuationStarts, holdFileBody, readFileBody } from './support/file-body.ts';
import type { ProbeRequest } from './support/probe-app.ts';

const SIZE = 384 * 1024 * 1024;

test('a download the page stops reading goes on after the worker closed its connection 32 MiB behind, every byte intact', async ({
  page,
  zt,
}) => {
  test.setTimeout(240_000);
  await enterApp(page, zt);
  const from = zt.appRequests.length;
  const files = () =>
    (zt.appRequests.slice(from) as unknown as readonly ProbeRequest[]).filter((r) =>
      r.url.startsWith('/file?'),
    );
  // The page takes the head and the first bytes, then reads nothing…
  await page.evaluate(holdFileBody, `/file?n=${SIZE}`);
  // …until the worker, 32 MiB behind, has closed the connection: the app's response was cut.
  await expect.poll(() => files()[0]?.sent, { timeout: 120_000 }).toBe('cut');
  expect(await page.evaluate(readFileBody, { held: true } as const)).toEqual({
    status: 200,
    length: SIZE,
    firstWrong: -1,
  });
  // The page had what the browser took from the worker, and the worker's 32 MiB, not 256.
  const [resumedAt] = continuationStarts(files(), `"file-${SIZE}"`, SIZE);
  expect(resumedAt).toBeGreaterThan(BACKLOG_BYTES);
  expect(resumedAt).toBeLessThan(256 * 1024 * 1024);
});
