/**
 * TLS 1.3 client (shared/tls): handshake time and application-data throughput (16 KiB records) in
 * Node, Chromium and Firefox, beside the AES-128-GCM ceiling of `browser/ceiling.ts` (16 KiB
 * records, 8 in flight; seal for upload and encrypt rows, open for download and decrypt rows),
 * measured in the same runtime, thread kind and run.
 *
 * - Browsers: our client runs in a shared worker (tls/browser.ts says why not a dedicated one; the
 *   product runs it in its service worker) over the product's router transport,
 *   `openWebSocketDuplex`, to the fixture's Node TLS server (e2e/tls/harness.ts, client
 *   certificate required) through its WebSocket bridge, as it reaches an edge router. Node
 *   connects to the same server over TCP.
 * - "raw WebSocket": the same bridge and transport without TLS: the transport's own limit.
 * - "record pipeline": our record layer alone, to and from memory: what TLS costs over the AEAD.
 *
 * The machine running this is often shared, so every figure is the median of ROUNDS interleaved
 * rounds (each round measures the ceiling and every candidate; odd rounds in reverse order).
 */
import { startTlsHarness, type TlsHarness } from '../e2e/tls/harness.ts';
import { ceilings } from './browser/ceiling.ts';
import { type Bench, type BenchResult, median, withGoal } from './harness.ts';
import { BENCH_BROWSERS, launchBrowser } from './support/browsers.ts';
import { startTlsWorker } from './tls/browser.ts';
import { nodeHandshakeMs, nodeThroughput } from './tls/node-client.ts';
import { pipelineThroughput, primitiveTimings } from './tls/pipeline.ts';

const BYTES = 32 * 1024 * 1024;
const HANDSHAKES = 25;
const ROUNDS = 5;
const CEILING_MS = 1000;
const PIPELINE_GOAL = 0.9;
const HANDSHAKE_GOAL_MS = 20;

/** Each probe returns one or more named figures. */
type Probe = () => Promise<Record<string, number>>;

/** Runs every probe ROUNDS times, interleaved; returns each figure's median. */
async function measure(probes: Probe[]): Promise<Record<string, number>> {
  const samples: Record<string, number[]> = {};
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? probes : [...probes].reverse();
    for (const probe of order) {
      for (const [name, value] of Object.entries(await probe())) {
        samples[name] = [...(samples[name] ?? []), value];
      }
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, median(xs)]));
}

const aesCeiling = (c: { aesGcmSeal: number; aesGcmOpen: number }) => ({
  aesGcmSeal: c.aesGcmSeal,
  aesGcmOpen: c.aesGcmOpen,
});
const primitives = (timings: Record<string, number>) =>
  Object.fromEntries(Object.entries(timings).map(([k, v]) => [`primitive ${k}`, v]));

function nodeProbes(h: TlsHarness): Probe[] {
  return [
    async () => aesCeiling(await ceilings(CEILING_MS)),
    async () => ({ handshakeMs: await nodeHandshakeMs(h, HANDSHAKES) }),
    async () => ({ download: await nodeThroughput(h, 'download', BYTES) }),
    async () => ({ upload: await nodeThroughput(h, 'upload', BYTES) }),
    async () => ({ pipelineDecrypt: await pipelineThroughput('download', BYTES) }),
    async () => ({ pipelineEncrypt: await pipelineThroughput('upload', BYTES) }),
    async () => primitives(await primitiveTimings()),
  ];
}

function browserProbes(call: Awaited<ReturnType<typeof startTlsWorker>>, h: TlsHarness): Probe[] {
  const p = h.params(0);
  return [
    async () => aesCeiling(await call('ceilings', CEILING_MS)),
    async () => ({ handshakeMs: await call('handshakes', p, HANDSHAKES) }),
    async () => ({ download: await call('throughput', p, 'download', BYTES) }),
    async () => ({ upload: await call('throughput', p, 'upload', BYTES) }),
    async () => ({ rawDownload: await call('rawThroughput', p, 'download', BYTES) }),
    async () => ({ rawUpload: await call('rawThroughput', p, 'upload', BYTES) }),
    async () => ({ pipelineDecrypt: await call('pipelineThroughput', 'download', BYTES) }),
    async () => ({ pipelineEncrypt: await call('pipelineThroughput', 'upload', BYTES) }),
    async () => primitives(await call('primitiveTimings')),
  ];
}

function rows(runtime: string, f: Record<string, number>): BenchResult[] {
  const suite = 'tls';
  const seal = { name: 'AES-GCM seal ceiling', value: f.aesGcmSeal! };
  const open = { name: 'AES-GCM open ceiling', value: f.aesGcmOpen! };
  const transport = runtime === 'node' ? 'TCP' : 'openWebSocketDuplex in a shared worker';
  const mb = (name: string, value: number | undefined, baseline: typeof seal, note: string) =>
    value === undefined ? [] : [{ suite, name, value, unit: 'MB/s', baseline, note }];
  const pipelineGoal = {
    atLeast: PIPELINE_GOAL,
    text: `>= ${PIPELINE_GOAL}x AES-GCM ceiling`,
  };
  return [
    withGoal(
      {
        suite,
        name: `${runtime} handshake`,
        value: f.handshakeMs!,
        unit: 'ms',
        note: `median of ${HANDSHAKES} per round; client auth, ECDSA P-256, over ${transport}`,
      },
      { atMost: HANDSHAKE_GOAL_MS, text: `< ${HANDSHAKE_GOAL_MS} ms` },
    ),
    ...mb(`${runtime} TLS download`, f.download, open, `over ${transport}`),
    ...mb(`${runtime} TLS upload`, f.upload, seal, `over ${transport}`),
    ...mb(`${runtime} raw WebSocket download`, f.rawDownload, open, 'transport limit, no TLS'),
    ...mb(`${runtime} raw WebSocket upload`, f.rawUpload, seal, 'transport limit, no TLS'),
    withGoal(
      {
        suite,
        name: `${runtime} record pipeline decrypt`,
        value: f.pipelineDecrypt!,
        unit: 'MB/s',
        baseline: open,
        note: 'no network',
      },
      pipelineGoal,
    ),
    withGoal(
      {
        suite,
        name: `${runtime} record pipeline encrypt`,
        value: f.pipelineEncrypt!,
        unit: 'MB/s',
        baseline: seal,
        note: 'no network',
      },
      pipelineGoal,
    ),
    {
      suite,
      name: `${runtime} AES-GCM seal ceiling`,
      value: f.aesGcmSeal!,
      unit: 'MB/s',
      note: '16 KiB records, 8 in flight',
    },
    {
      suite,
      name: `${runtime} AES-GCM open ceiling`,
      value: f.aesGcmOpen!,
      unit: 'MB/s',
      note: '16 KiB records, 8 in flight',
    },
    ...Object.entries(f)
      .filter(([k]) => k.startsWith('primitive '))
      .map(([k, value]) => ({
        suite,
        name: `${runtime} ${k.slice('primitive '.length)}`,
        value,
        unit: 'us',
        note: 'handshake primitive choice',
      })),
  ];
}

const bench: Bench = async () => {
  const harness = await startTlsHarness();
  const results: BenchResult[] = [];
  try {
    results.push(...rows('node', await measure(nodeProbes(harness))));
    for (const name of BENCH_BROWSERS) {
      const browser = await launchBrowser(name);
      try {
        const page = await browser.newPage();
        await page.goto(harness.origin);
        const call = await startTlsWorker(page);
        results.push(...rows(name, await measure(browserProbes(call, harness))));
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
