/**
 * A download whose connection is lost half-way goes on with a Range request from the byte where it
 * stopped, when the server offers byte ranges of it (sw/tunnel/resumable.ts): the page reads one
 * unbroken, intact body. Before, its read failed. `resumed-download.chromium.spec.ts` loses the
 * connection the other way, in the worker.
 *
 * On OpenZiti's network the worker learns it only from silence: when the app's server ends its
 * response early, v1.7.2's `ziti tunnel host` tells the dialer nothing (the circuit stays open, no
 * FIN and no close: measured from Node against the real router and tunneler), so the worker goes
 * on once the connection has been silent for `STALL_MS` while the page waited.
 */
import { STALL_MS } from '../sw/tunnel/resumable.ts';
import { enterApp } from './support/enter-app.ts';
import { expect, test } from './support/fabric.ts';
import { continuationStarts, readFileBody } from './support/file-body.ts';
import type { ProbeRequest } from './support/probe-app.ts';

const SIZE = 64 * 1024 * 1024;
/** Where the app's server ends the first response's connection (not on a word boundary). */
const CUT = 20 * 1024 * 1024 + 4 * 3001 + 2;

test('a download whose server connection ends half-way goes on where it stopped, every byte intact', async ({
  page,
  zt,
}) => {
  test.setTimeout(STALL_MS + 60_000);
  await enterApp(page, zt);
  const from = zt.appRequests.length;
  const got = await page.evaluate(readFileBody, { url: `/file?n=${SIZE}&cutAt=${CUT}` });
  expect(got).toEqual({ status: 200, length: SIZE, firstWrong: -1 });
  const files = (zt.appRequests.slice(from) as unknown as readonly ProbeRequest[]).filter((r) =>
    r.url.startsWith('/file?'),
  );
  // Past 32 MiB behind a slow page the worker may cut it too (sw/tunnel/resumable.ts).
  expect(continuationStarts(files, `"file-${SIZE}"`, SIZE)[0]).toBe(CUT);
});
