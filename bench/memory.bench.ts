/**
 * The browser's memory during a 1 GiB tunnelled download and a 1 GiB tunnelled upload, in Chromium
 * and Firefox, against the fabric and against OpenZiti's own network (goal: the worker grows by at
 * most 64 MiB over 1 GiB each way).
 *
 * The tunnel reads the router's WebSocket with a classic WebSocket, which cannot be paused: when
 * the page consumes a download more slowly than the tunnel delivers it, bytes queue inside the
 * service worker. Hence a third transfer, a download read by a deliberately slow page.
 *
 * Two figures, sampled every SAMPLE_MS while a transfer runs, as peak growth over the level just
 * before it:
 * - the proportional set size (PSS, so pages shared between processes count once) summed over the
 *   browser's whole process tree: an upper bound of the worker's growth, as it also holds the page,
 *   the network process and the browser process;
 * - in Chromium, the service worker's own V8 heap over its DevTools target (`Runtime.getHeapUsage`):
 *   used size plus the ArrayBuffer backing stores, where queued bytes live.
 * The download and the upload also run directly, at the dark app's own loopback origin with no
 * worker, in a browser of their own: the control of the tree figure, as the page's own reading and
 * the browser's network stack grow with any 1 GiB transfer.
 * The upload sends a file picked in a file input (a sparse file on disk), as a user's upload is:
 * the body is not held in the page's memory. Each transfer runs in a browser of its own. Firefox is
 * driven over WebDriver BiDi directly (`support/firefox-bidi.ts`): driven by Playwright it keeps a
 * copy of every response body in its parent process. With more than one of ROUNDS, every figure is
 * the median, each round running the three transfers in a different order.
 */
import { open, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROBE_TITLE } from '../e2e/support/probe-app.ts';
import { type Bench, type BenchResult, median, step, withGoal } from './harness.ts';
import { type BareBrowser, launchBareBrowser } from './support/bare-browsers.ts';
import { BENCH_BROWSERS, type BenchBrowser } from './support/browsers.ts';
import { type DevTools, serviceWorkerTarget } from './support/devtools.ts';
import { type BenchNetwork, eachNetwork } from './support/network.ts';

const MiB = 1024 * 1024;
const BULK = 1024 * MiB;
const SLOW = 256 * MiB;
/** The slow page waits this long after every MiB it reads: at most 10 MiB/s, below the tunnel's rate. */
const SLOW_PAUSE_MS = 100;
/**
 * One round: each case moves 1 GiB (about a minute at this machine's tunnel speed), and the goal
 * bounds the peak of one such transfer; two rounds double a run that is already the longest suite.
 */
const ROUNDS = 1;
const SAMPLE_MS = 200;
/** Samples averaged into the level before a transfer. */
const BEFORE_SAMPLES = 5;
const GOAL = { atMost: 64, text: '<= 64 MiB growth over 1 GiB' };
/** A transfer still running after this long is aborted in the page and counted as failed. */
const TRANSFER_LIMIT_MS = 240_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** pid -> child pids, from every /proc/<pid>/stat. */
async function childrenByPid(): Promise<Map<number, number[]>> {
  const children = new Map<number, number[]>();
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d));
  await Promise.all(
    pids.map(async (p) => {
      let stat: string;
      try {
        stat = await readFile(`/proc/${p}/stat`, 'utf8');
      } catch {
        return; // exited meanwhile
      }
      // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(p));
      children.set(ppid, list);
    }),
  );
  return children;
}

function descendants(children: Map<number, number[]>, root: number): number[] {
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop()!;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** PSS (MiB) summed over `root` and all its descendants. */
async function treePssMiB(root: number): Promise<number> {
  const pids = descendants(await childrenByPid(), root);
  const kib = await Promise.all(
    pids.map(async (pid) => {
      const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
      return Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
    }),
  );
  return kib.reduce((a, b) => a + b, 0) / 1024;
}

interface HeapUsage {
  usedSize: number;
  backingStorageSize?: number;
}

/** Worker heap in MiB: used V8 heap and ArrayBuffer backing stores (when the browser tells them). */
async function workerHeap(worker: DevTools): Promise<{ used: number; backing: number }> {
  const h = await worker.send<HeapUsage>('Runtime.getHeapUsage');
  return { used: h.usedSize / MiB, backing: (h.backingStorageSize ?? 0) / MiB };
}

/** One transfer's figures: MB/s, and peak growth (MiB) of the tree and of the worker's heap. */
interface Watched {
  mbps: number;
  failure?: string;
  tree: number;
  treeBefore: number;
  heap?: { total: number; used: number; backing: number; before: number };
}

/**
 * Samples memory for BEFORE_SAMPLES periods, starts `transfer`, and samples until it settles. A
 * transfer that fails in the page still yields its memory figures, with the failure.
 */
async function watch(
  page: BareBrowser,
  root: number,
  worker: DevTools | undefined,
  transfer: () => Promise<number>,
): Promise<Watched> {
  if (worker) await worker.send('HeapProfiler.collectGarbage');
  const treeBefore: number[] = [];
  const heapBefore: { used: number; backing: number }[] = [];
  for (let i = 0; i < BEFORE_SAMPLES; i++) {
    treeBefore.push(await treePssMiB(root));
    if (worker) heapBefore.push(await workerHeap(worker));
    await sleep(SAMPLE_MS);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const tree0 = mean(treeBefore);
  const used0 = mean(heapBefore.map((h) => h.used));
  const backing0 = mean(heapBefore.map((h) => h.backing));

  let settled = false;
  const result = transfer().then(
    (mbps) => ({ mbps }),
    (err: Error) => ({ mbps: Number.NaN, failure: err.message.split('\n')[0] }),
  );
  void result.finally(() => {
    settled = true;
  });
  const started = performance.now();
  let timedOut = false;
  let tree = 0;
  let total = 0;
  let used = 0;
  let backing = 0;
  while (!settled) {
    const t = performance.now();
    tree = Math.max(tree, (await treePssMiB(root)) - tree0);
    if (worker) {
      const h = await workerHeap(worker);
      used = Math.max(used, h.used - used0);
      backing = Math.max(backing, h.backing - backing0);
      total = Math.max(total, h.used + h.backing - used0 - backing0);
    }
    if (!timedOut && performance.now() - started > TRANSFER_LIMIT_MS) {
      timedOut = true;
      await page.evaluate(
        () => (window as { benchAbort?: AbortController }).benchAbort?.abort(),
        undefined,
      );
    }
    await sleep(Math.max(0, SAMPLE_MS - (performance.now() - t)));
  }
  const outcome = await result;
  return {
    ...outcome,
    ...(timedOut && { failure: `no result in ${TRANSFER_LIMIT_MS / 1000} s` }),
    tree,
    treeBefore: tree0,
    heap: worker ? { total, used, backing, before: used0 + backing0 } : undefined,
  };
}

/**
 * Downloads a file of `n` bytes in the page; with `pauseMs`, waits that long after every MiB read.
 * The probe app's `/file` offers byte ranges and a strong ETag, as a file server or a Mattermost
 * attachment does, so a connection the worker closes 32 MiB behind resumes (`resumable.ts`).
 */
const download = (page: BareBrowser, n: number, pauseMs: number) =>
  page.evaluate(
    async ({ n, pauseMs, mib }) => {
      const abort = new AbortController();
      (window as { benchAbort?: AbortController }).benchAbort = abort;
      const started = performance.now();
      const reader = (
        await fetch(`/file?n=${n}`, { cache: 'no-store', signal: abort.signal })
      ).body!.getReader();
      let got = 0;
      let nextPause = mib;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        got += value.length;
        if (pauseMs > 0 && got >= nextPause) {
          // One pause per MiB read, however many MiB one read returned (Firefox's reads grow).
          const mibs = Math.floor((got - nextPause) / mib) + 1;
          nextPause += mibs * mib;
          await new Promise((r) => setTimeout(r, mibs * pauseMs));
        }
      }
      if (got !== n) throw new Error(`got ${got} of ${n}`);
      return n / ((performance.now() - started) / 1000) / 1e6;
    },
    { n, pauseMs, mib: MiB },
  );

const FILE_INPUT = 'memory-bench-file';

/** Uploads the file picked in the page's file input. */
const upload = (page: BareBrowser, n: number) =>
  page.evaluate(
    async ({ n, id }) => {
      const file = (document.getElementById(id) as HTMLInputElement).files![0]!;
      const abort = new AbortController();
      (window as { benchAbort?: AbortController }).benchAbort = abort;
      const started = performance.now();
      const response = await fetch('/upload', { method: 'POST', body: file, signal: abort.signal });
      const result = (await response.json()) as {
        length: number;
      };
      if (result.length !== n) throw new Error(`server got ${result.length} of ${n}`);
      return n / ((performance.now() - started) / 1000) / 1e6;
    },
    { n, id: FILE_INPUT },
  );

type Kind = 'down' | 'up' | 'slow';
const KINDS: Kind[] = ['down', 'up', 'slow'];
/** The transfers with a goal also run directly, no worker: what the browser grows by itself. */
const DIRECT_KINDS: Kind[] = ['down', 'up'];

/** A new browser, with `go` done in its tab (the browser closed again if that fails). */
async function launched(name: BenchBrowser, go: (b: BareBrowser) => Promise<void>) {
  const browser = await launchBareBrowser(name);
  try {
    await go(browser);
    return browser;
  } catch (err) {
    await browser.close();
    throw err;
  }
}

/**
 * One transfer in a browser of its own, signed in and warmed up: a browser does not give back at
 * once what an earlier transfer used (Firefox's level stayed 800 MiB up after a failed download),
 * so transfers in one browser would each start from the one before.
 */
async function measureTransfer(
  name: BenchBrowser,
  net: BenchNetwork,
  file: string,
  kind: Kind,
  suite: string,
  direct = false,
): Promise<Watched> {
  // Direct: the dark app's own loopback origin, no worker, the control of the same transfer.
  const tab = direct
    ? await step(
        `${suite}: open the app directly`,
        launched(name, (b) => b.open(`${net.appOrigin}/shell`, '#probe')),
      )
    : await step(
        `${suite}: sign in`,
        launched(name, (b) => b.signIn(net, '/shell', '#probe')),
      );
  let worker: DevTools | undefined;
  try {
    const title = await tab.evaluate(() => document.title, undefined);
    if (title !== PROBE_TITLE) throw new Error('not the probe app');
    if (kind === 'up') {
      await tab.evaluate((id) => {
        const input = document.createElement('input');
        input.type = 'file';
        input.id = id;
        document.body.append(input);
      }, FILE_INPUT);
      await tab.setInputFile(`#${FILE_INPUT}`, file);
    }
    // Connections, pool and code warm before the first level is taken.
    await step(`${suite}: warm-up`, download(tab, 16 * MiB, 0));
    if (tab.debuggingPort && !direct) worker = await serviceWorkerTarget(tab.debuggingPort);
    const transfer =
      kind === 'down'
        ? () => download(tab, BULK, 0)
        : kind === 'up'
          ? () => upload(tab, BULK)
          : () => download(tab, SLOW, SLOW_PAUSE_MS);
    // No step timeout here: watch() aborts a transfer past TRANSFER_LIMIT_MS itself.
    return await watch(tab, tab.pid, worker, transfer);
  } finally {
    worker?.close();
    await tab.close();
  }
}

async function measure(
  name: BenchBrowser,
  net: BenchNetwork,
  file: string,
): Promise<BenchResult[]> {
  const suite = `memory/${net.kind}/${name}`;
  const runs: Record<Kind, Watched[]> = { down: [], up: [], slow: [] };
  const direct: Record<Kind, Watched[]> = { down: [], up: [], slow: [] };
  const run = async (kind: Kind, round: number, isDirect: boolean) => {
    process.stderr.write(`  ${suite}: ${kind}${isDirect ? ' direct' : ''} round ${round}…\n`);
    const w = await measureTransfer(name, net, file, kind, suite, isDirect);
    process.stderr.write(
      `    ${w.mbps.toFixed(1)} MB/s, tree +${w.tree.toFixed(0)} MiB` +
        (w.heap ? `, worker heap +${w.heap.total.toFixed(0)} MiB` : '') +
        (w.failure ? `, failed: ${w.failure}` : '') +
        '\n',
    );
    (isDirect ? direct : runs)[kind].push(w);
  };
  for (let i = 0; i < ROUNDS; i++) {
    const order = [...KINDS.slice(i % 3), ...KINDS.slice(0, i % 3)];
    for (const kind of order) await run(kind, i + 1, false);
    for (const kind of DIRECT_KINDS) await run(kind, i + 1, true);
  }

  const rows: BenchResult[] = [];
  const label: Record<Kind, string> = {
    down: `download ${BULK / MiB} MiB, page reads at full speed`,
    up: `upload ${BULK / MiB} MiB from a file`,
    slow: `download ${SLOW / MiB} MiB, page reads <= ${1000 / SLOW_PAUSE_MS} MiB/s`,
  };
  for (const kind of KINDS) {
    const ws = runs[kind];
    const failed = ws.filter((w) => w.failure);
    const done = ws.filter((w) => !w.failure);
    const speed = done.length
      ? `${median(done.map((w) => w.mbps)).toFixed(1)} MB/s`
      : 'no transfer completed';
    const failures = failed.length
      ? `; ${failed.length} of ${ws.length} failed: ${failed[0]!.failure}`
      : '';
    const row = (what: string, value: number, note: string): BenchResult => {
      const r: BenchResult = { suite, name: `${label[kind]}: ${what}`, value, unit: 'MiB', note };
      if (kind === 'slow') return r;
      const g = withGoal(r, GOAL);
      return failed.length ? { ...g, met: false } : g;
    };
    const controls = direct[kind];
    const control = controls.length ? median(controls.map((w) => w.tree)) : undefined;
    rows.push(
      row(
        'browser process tree PSS growth',
        median(ws.map((w) => w.tree)),
        `${speed}; before ${median(ws.map((w) => w.treeBefore)).toFixed(0)} MiB` +
          (control === undefined ? '' : `; direct +${control.toFixed(0)} MiB`) +
          failures,
      ),
    );
    if (control !== undefined) {
      const failedDirect = controls.find((w) => w.failure)?.failure;
      const doneDirect = controls.filter((w) => !w.failure);
      rows.push({
        suite,
        name: `${label[kind]}: browser process tree PSS growth, direct (no worker)`,
        value: control,
        unit: 'MiB',
        note:
          (doneDirect.length
            ? `${median(doneDirect.map((w) => w.mbps)).toFixed(1)} MB/s`
            : 'no transfer completed') + (failedDirect ? `; failed: ${failedDirect}` : ''),
      });
    }
    if (ws.every((w) => w.heap)) {
      const heap = ws.map((w) => w.heap!);
      rows.push(
        row(
          'service worker heap growth (V8 used + ArrayBuffers)',
          median(heap.map((h) => h.total)),
          `used +${median(heap.map((h) => h.used)).toFixed(1)}, ArrayBuffers +${median(heap.map((h) => h.backing)).toFixed(1)} MiB; before ${median(heap.map((h) => h.before)).toFixed(0)} MiB${failures}`,
        ),
      );
    }
  }
  return rows;
}

const bench: Bench = async () => {
  // A sparse file: the upload reads zeros from disk without a GiB written first.
  const file = join(tmpdir(), `memory-bench-${process.pid}.bin`);
  const handle = await open(file, 'w');
  await handle.truncate(BULK);
  await handle.close();
  try {
    return await eachNetwork(async (net) => {
      const results: BenchResult[] = [];
      for (const name of BENCH_BROWSERS) results.push(...(await measure(name, net, file)));
      return results;
    });
  } finally {
    await rm(file, { force: true });
  }
};

export default bench;
