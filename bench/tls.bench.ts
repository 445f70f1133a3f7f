/**
 * TLS 1.3 client: handshake time and application-data throughput (16 KiB records) in Node,
 * Chromium and Firefox, beside the WebCrypto AES-128-GCM ceiling (16 KiB records, 8 in flight)
 * measured in the same runtime and run.
 *
 * - "TLS download/upload": a real connection to a Node TLS server (client certificate required).
 *   Browsers reach it through a WebSocket bridge on loopback, as they reach an edge router;
 *   Node connects over TCP.
 * - "raw WebSocket": the same bridge without TLS: the transport's own limit in that browser.
 * - "record pipeline": our record layer alone, to and from memory: what TLS costs over the AEAD.
 *
 * The machine running this is often shared, so every figure is the best of ROUNDS interleaved
 * rounds (ceiling and candidates measured alternately).
 */
import { chromium, firefox, type Page } from '@playwright/test';
import { browsers, chromiumArgs } from '../e2e/browsers.ts';
import type * as Client from '../e2e/tls/client-entry.ts';
import { startTlsHarness, type TlsHarness } from '../e2e/tls/harness.ts';
import type { Bench, BenchResult } from './harness.ts';
import { nodeHandshakeMs, nodeThroughput } from './tls/node-client.ts';

const BYTES = 32 * 1024 * 1024;
const HANDSHAKES = 25;
const ROUNDS = 3;

interface Figures {
  handshakeMs: number;
  download: number;
  upload: number;
  rawDownload?: number;
  rawUpload?: number;
  pipelineDownload: number;
  pipelineUpload: number;
  ceiling8: number;
  ceiling1: number;
}

/** Best of `ROUNDS` interleaved rounds of every probe. */
async function measure(
  probes: Record<string, () => Promise<number>>,
): Promise<Record<string, number>> {
  const best: Record<string, number> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, probe] of Object.entries(probes)) {
      best[name] = Math.max(best[name] ?? 0, await probe());
    }
  }
  return best;
}

async function nodeFigures(h: TlsHarness, client: typeof Client): Promise<Figures> {
  const handshakeMs = await nodeHandshakeMs(h, HANDSHAKES);
  const best = await measure({
    ceiling8: () => client.aeadCeiling(8, 500),
    download: () => nodeThroughput(h, 'download', BYTES),
    upload: () => nodeThroughput(h, 'upload', BYTES),
    pipelineDownload: () => client.pipelineThroughput('download', BYTES),
    pipelineUpload: () => client.pipelineThroughput('upload', BYTES),
    ceiling1: () => client.aeadCeiling(1, 500),
  });
  return { handshakeMs, ...best } as unknown as Figures;
}

async function browserFigures(page: Page, h: TlsHarness): Promise<Figures> {
  await page.goto(h.origin);
  // One evaluate per probe keeps each under Playwright's timeout and lets Node interleave.
  const call = <T>(fn: keyof typeof Client, ...args: unknown[]) =>
    page.evaluate(
      ({ fn, args }) =>
        (globalThis as unknown as { tlsTest: Record<string, (...a: unknown[]) => Promise<T>> })
          .tlsTest[fn]!(...args),
      { fn, args },
    ) as Promise<T>;
  const p = h.params(0);
  const handshakeMs = await call<number>('handshakes', p, HANDSHAKES);
  const best = await measure({
    ceiling8: () => call('aeadCeiling', 8, 500),
    download: () => call('throughput', p, 'download', BYTES),
    upload: () => call('throughput', p, 'upload', BYTES),
    rawDownload: () => call('rawWebSocketThroughput', p, 'download', BYTES),
    rawUpload: () => call('rawWebSocketThroughput', p, 'upload', BYTES),
    pipelineDownload: () => call('pipelineThroughput', 'download', BYTES),
    pipelineUpload: () => call('pipelineThroughput', 'upload', BYTES),
    ceiling1: () => call('aeadCeiling', 1, 500),
  });
  return { handshakeMs, ...best } as unknown as Figures;
}

const primitiveRows = (runtime: string, timings: Record<string, number>): BenchResult[] =>
  Object.entries(timings).map(([name, value]) => ({
    suite: 'tls',
    name: `${runtime} ${name}`,
    value,
    unit: 'us',
    note: 'handshake primitive choice',
  }));

function rows(runtime: string, f: Figures): BenchResult[] {
  const ceiling = { name: 'AES-GCM x8 ceiling', value: f.ceiling8 };
  const transport = runtime === 'node' ? 'TCP' : 'WebSocket';
  const out: BenchResult[] = [
    {
      suite: 'tls',
      name: `${runtime} handshake (median of ${HANDSHAKES})`,
      value: f.handshakeMs,
      unit: 'ms',
      note: `goal < 20 ms; client auth, ECDSA P-256, over ${transport}`,
    },
    {
      suite: 'tls',
      name: `${runtime} TLS download`,
      value: f.download,
      unit: 'MB/s',
      baseline: ceiling,
      note: `over ${transport}`,
    },
    {
      suite: 'tls',
      name: `${runtime} TLS upload`,
      value: f.upload,
      unit: 'MB/s',
      baseline: ceiling,
      note: `over ${transport}`,
    },
  ];
  if (f.rawDownload !== undefined && f.rawUpload !== undefined) {
    out.push(
      {
        suite: 'tls',
        name: `${runtime} raw WebSocket download`,
        value: f.rawDownload,
        unit: 'MB/s',
        baseline: ceiling,
        note: 'transport limit, no TLS',
      },
      {
        suite: 'tls',
        name: `${runtime} raw WebSocket upload`,
        value: f.rawUpload,
        unit: 'MB/s',
        baseline: ceiling,
        note: 'transport limit, no TLS',
      },
    );
  }
  out.push(
    {
      suite: 'tls',
      name: `${runtime} record pipeline decrypt`,
      value: f.pipelineDownload,
      unit: 'MB/s',
      baseline: ceiling,
      note: 'goal >= 0.90x; no network',
    },
    {
      suite: 'tls',
      name: `${runtime} record pipeline encrypt`,
      value: f.pipelineUpload,
      unit: 'MB/s',
      baseline: ceiling,
      note: 'goal >= 0.90x; no network',
    },
    {
      suite: 'tls',
      name: `${runtime} AES-GCM 16 KiB, 8 in flight`,
      value: f.ceiling8,
      unit: 'MB/s',
      note: 'the ceiling',
    },
    {
      suite: 'tls',
      name: `${runtime} AES-GCM 16 KiB, 1 at a time`,
      value: f.ceiling1,
      unit: 'MB/s',
      baseline: ceiling,
    },
  );
  return out;
}

const bench: Bench = async () => {
  const harness = await startTlsHarness();
  const results: BenchResult[] = [];
  try {
    const client = await import('../e2e/tls/client-entry.ts');
    results.push(...rows('node', await nodeFigures(harness, client)));
    results.push(...primitiveRows('node', await client.primitiveTimings()));
    for (const name of ['chromium', 'firefox'] as const) {
      const browser =
        name === 'chromium'
          ? await chromium.launch({ executablePath: browsers.chromium.path, args: chromiumArgs })
          : await firefox.launch({ channel: 'moz-firefox', executablePath: browsers.firefox.path });
      try {
        const page = await browser.newPage();
        results.push(...rows(name, await browserFigures(page, harness)));
        const timings = await page.evaluate(() =>
          (
            globalThis as unknown as {
              tlsTest: { primitiveTimings(): Promise<Record<string, number>> };
            }
          ).tlsTest.primitiveTimings(),
        );
        results.push(...primitiveRows(name, timings));
      } finally {
        await browser.close();
      }
    }
  } finally {
    await harness.close();
  }
  return results;
};

export default bench;
