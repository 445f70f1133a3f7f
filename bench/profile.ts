/**
 * `npm run bench:profile -- [download|upload|reload|resume] [MiB] [fabric|openziti]`: where the time
 * of a tunnelled transfer (or of warm reloads of an app shell, or of the first request of a stopped
 * and restarted worker, profiled from its first instruction) goes. Runs one transfer through the product in Chromium and records the
 * service worker's CPU profile over the DevTools protocol; against the fabric (run in this process
 * for that) also the fabric's own (node:inspector). Prints self time per source file (the worker's
 * mapped back to product sources) and the hottest functions of each side.
 */
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { SourceMap } from 'node:module';
import { join } from 'node:path';
import { chromium } from '@playwright/test';
import { acceptFabricCert, browsers, chromiumArgs } from '../e2e/browsers.ts';
import { signInAtIdp } from '../e2e/support/enter-app.ts';
import { startE2eFabric } from '../e2e/support/fabric.ts';
import { timedSmallGet } from './support/browsers.ts';
import { browserTarget, type DevTools, serviceWorkerTarget } from './support/devtools.ts';
import { startBenchNetwork } from './support/network.ts';

const MODES = ['download', 'upload', 'reload', 'resume'] as const;
const direction = MODES.find((m) => m === process.argv[2]) ?? 'download';
/** `reload`: this many warm reloads of the app shell instead of a transfer. */
const RELOADS = 20;
/** `resume`: this many restarts of the worker, their profiles added up. */
const RESUMES = 5;
const bytes = Number(process.argv[3] ?? 64) * 1024 * 1024;
const network = process.argv[4] === 'openziti' ? 'openziti' : 'fabric';
const DEBUG_PORT = 9339;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const dist = join(import.meta.dirname, '../dist');
const maps = new Map<string, SourceMap>();

/**
 * The source map of a script of the built worker (`sw.js`, or one of its parts under
 * `/__zt/sw-parts/`): minified positions back to product and library source files.
 */
function mapOf(url: string): SourceMap | undefined {
  const path = /\/(sw\.js|__zt\/sw-parts\/[\w.]+\.js)$/.exec(url)?.[1];
  if (!path) return undefined;
  let map = maps.get(path);
  if (!map) {
    map = new SourceMap(JSON.parse(readFileSync(join(dist, `${path}.map`), 'utf8')));
    maps.set(path, map);
  }
  return map;
}

function source(frame: ProfileNode['callFrame']): { file: string; line: number } {
  const entry = mapOf(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber);
  if (entry && 'originalSource' in entry && entry.originalSource) {
    return { file: entry.originalSource.replace(/^(\.\.\/)+/, ''), line: entry.originalLine + 1 };
  }
  const file = frame.url
    ? frame.url.replace(/^.*\/(?=[^/]+\/[^/]+$)/, '')
    : `(${frame.functionName || 'native'})`;
  return { file, line: frame.lineNumber + 1 };
}

/** Several profiles as one (their nodes renumbered apart). */
function merge(profiles: Profile[]): Profile {
  const out: Profile = { nodes: [], samples: [], timeDeltas: [] };
  let offset = 0;
  for (const p of profiles) {
    const shift = (id: number) => id + offset;
    for (const n of p.nodes)
      out.nodes.push({
        ...n,
        id: shift(n.id),
        ...(n.children ? { children: n.children.map(shift) } : {}),
      });
    out.samples.push(...p.samples.map(shift));
    out.timeDeltas.push(...p.timeDeltas);
    offset += Math.max(...p.nodes.map((n) => n.id)) + 1;
  }
  return out;
}

/**
 * Stops the worker RESUMES times and profiles each new one, through one small tunnelled GET; prints
 * each resume's time and its worker's phases (`/__zt/sw-status`), and returns the profiles added
 * up. A service worker's DevTools target outlives a stop: a session attached to it re-attaches to
 * the restarted worker before its script runs and restores the profiler's state, so a profile
 * started before the stop records the new worker from its start.
 */
async function profileResumes(page: import('@playwright/test').Page): Promise<Profile> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('ServiceWorker.enable');
  const browserSession: DevTools = await browserTarget(DEBUG_PORT);
  const attached = new Promise<string>((resolve) =>
    browserSession.onEvent((method, params) => {
      const { sessionId, targetInfo } = params as {
        sessionId: string;
        targetInfo?: { type: string };
      };
      if (method === 'Target.attachedToTarget' && targetInfo?.type === 'service_worker')
        resolve(sessionId);
    }),
  );
  await browserSession.send('Target.setAutoAttach', {
    autoAttach: true,
    waitForDebuggerOnStart: false,
    flatten: true,
  });
  const sw = await attached;
  await timedSmallGet(page);
  await browserSession.send('Profiler.enable', {}, sw);
  await browserSession.send('Profiler.setSamplingInterval', { interval: 100 }, sw);
  const profiles: Profile[] = [];
  for (let i = 0; i < RESUMES; i++) {
    await browserSession.send('Profiler.start', {}, sw);
    await cdp.send('ServiceWorker.stopAllWorkers');
    const ms = await timedSmallGet(page);
    profiles.push(
      (await browserSession.send<{ profile: Profile }>('Profiler.stop', {}, sw)).profile,
    );
    const status = await page.evaluate(
      async () => (await (await fetch('/__zt/sw-status')).json()) as { start?: object },
    );
    console.log(
      `resume ${i + 1}: ${ms.toFixed(0)} ms; worker phases ${JSON.stringify(status.start)}`,
    );
  }
  browserSession.close();
  return merge(profiles);
}

/** One transfer (or RELOADS reloads) with the worker's CPU profile, and the fabric's when in process. */
async function profileTransfer(page: import('@playwright/test').Page): Promise<void> {
  const worker = await serviceWorkerTarget(DEBUG_PORT);
  await worker.send('Profiler.enable');
  await worker.send('Profiler.setSamplingInterval', { interval: 200 });
  const node = zt.inProcess ? new Session() : undefined;
  node?.connect();
  await node?.post('Profiler.enable');
  await node?.post('Profiler.setSamplingInterval', { interval: 200 });

  await worker.send('Profiler.start');
  await node?.post('Profiler.start');
  const started = Date.now();
  for (let i = 0; direction === 'reload' && i < RELOADS; i++) {
    await page.reload({ waitUntil: 'load' });
  }
  const mbps =
    direction === 'reload'
      ? 0
      : await page.evaluate(
          async ({ n, direction }) => {
            const started = performance.now();
            if (direction === 'download') {
              const reader = (await fetch(`/bytes?n=${n}`)).body!.getReader();
              let got = 0;
              for (;;) {
                const { done, value } = await reader.read();
                if (done) break;
                got += value.length;
              }
              if (got !== n) throw new Error(`got ${got} of ${n}`);
            } else {
              const r = await fetch('/upload', {
                method: 'POST',
                body: new Blob([new Uint8Array(n)]),
              });
              const { length } = (await r.json()) as { length: number };
              if (length !== n) throw new Error(`server got ${length} of ${n}`);
            }
            return n / ((performance.now() - started) / 1000) / 1e6;
          },
          { n: bytes, direction },
        );
  const workerProfile = (await worker.send<{ profile: Profile }>('Profiler.stop')).profile;
  const nodeProfile = (await node?.post('Profiler.stop'))?.profile as unknown as Profile;
  worker.close();
  node?.disconnect();
  console.log(
    direction === 'reload'
      ? `${RELOADS} warm reloads of the app shell (${network}): ${((Date.now() - started) / RELOADS).toFixed(0)} ms each\n`
      : `${direction} ${bytes >> 20} MiB tunnelled (${network}): ${mbps.toFixed(1)} MB/s\n`,
  );
  console.log(summarise('service worker (Chromium)', workerProfile));
  if (nodeProfile) console.log(summarise('fabric (Node: router, tunneler, app)', nodeProfile));
}

/** Self time (ms) per file and per function, hottest first. */
function summarise(title: string, profile: Profile, top = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const files = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const { file, line } = source(frame);
    files.set(file, (files.get(file) ?? 0) + us);
    const fn = `${frame.functionName || '(anonymous)'} ${file}:${line}`;
    fns.set(fn, (fns.get(fn) ?? 0) + us);
    total += us;
  }
  const rows = (m: Map<string, number>, n = top) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(
        ([k, us]) =>
          `  ${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`,
      )
      .join('\n');
  // Native functions (no URL) say little alone: show who called the hottest ones.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const callers = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.url || frame.functionName.startsWith('(')) continue;
    const up = parent.get(id);
    const caller = up === undefined ? undefined : byId.get(up)!.callFrame;
    const where = caller
      ? `${caller.functionName || '(anonymous)'} ${Object.values(source(caller)).join(':')}`
      : '?';
    const key = `${frame.functionName} <- ${where}`;
    callers.set(key, (callers.get(key) ?? 0) + us);
  }
  // Library time says little alone either: charge each sample to the nearest product function on
  // its stack (what asked for the work), its own time included.
  const product = new Map<string, number>();
  for (const [id, us] of selfUs) {
    let at: number | undefined = id;
    let key = '(no product frame)';
    while (at !== undefined) {
      const frame = byId.get(at)!.callFrame;
      const { file, line } = source(frame);
      if (/^(shared|sw|fabric|bootstrap)\//.test(file)) {
        key = `${frame.functionName || '(anonymous)'} ${file}:${line}`;
        break;
      }
      at = parent.get(at);
    }
    product.set(key, (product.get(key) ?? 0) + us);
  }
  return `== ${title}: ${(total / 1000).toFixed(0)} ms sampled\n-- by file\n${rows(files)}\n-- by function\n${rows(fns)}\n-- native functions by caller\n${rows(callers, 12)}\n-- by nearest product function (its callees included)\n${rows(product, 20)}\n`;
}

const zt =
  network === 'fabric'
    ? { ...(await startE2eFabric('probe')), inProcess: true }
    : { ...(await startBenchNetwork('openziti')), inProcess: false };
process.env.PLAYWRIGHT_DISABLE_SERVICE_WORKER_NETWORK = '1'; // see support/browsers.ts
const browser = await chromium.launch({
  executablePath: browsers.chromium.path,
  args: [...chromiumArgs, `--remote-debugging-port=${DEBUG_PORT}`],
});
try {
  const page = await (await browser.newContext(acceptFabricCert)).newPage();
  await page.goto(`${zt.siteOrigin}/shell`);
  await signInAtIdp(page, zt.user);
  await page.waitForURL(`${zt.siteOrigin}/shell`);
  await page.locator('#probe').waitFor();

  if (direction === 'resume')
    console.log(
      summarise(`service worker (Chromium), ${RESUMES} resumes`, await profileResumes(page), 40),
    );
  else await profileTransfer(page);
} finally {
  await browser.close();
  await zt.close();
}
