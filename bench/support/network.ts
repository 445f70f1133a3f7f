/**
 * The network a browser benchmark runs against, in a child process of its own (fabric or
 * OpenZiti's own binaries with the bench's site, IdP and app): the driver's event loop (Playwright)
 * and the network's never slow each other down, as on real machines they would not.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { DarkAppKind, NetworkKind } from '../../e2e/support/fabric.ts';

export interface BenchNetwork {
  kind: NetworkKind;
  siteOrigin: string;
  /** The dark app's own loopback origin: the direct-access baseline. */
  appOrigin: string;
  user: { name: string; password: string };
  close(): Promise<void>;
}

export async function startBenchNetwork(
  kind: NetworkKind,
  app: DarkAppKind = 'probe',
): Promise<BenchNetwork> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', `${import.meta.dirname}/network-process.ts`, kind, app],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const first = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', resolve);
    void exited.then((code) => reject(new Error(`${kind} network exited with ${code}`)));
  });
  const info = JSON.parse(first) as Omit<BenchNetwork, 'kind' | 'close'>;
  return {
    kind,
    ...info,
    close: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The networks every browser suite runs against, in order. */
export const BENCH_NETWORKS: NetworkKind[] = ['fabric', 'openziti'];

/** Runs `suite` once per network (each started in its own process, then stopped). */
export async function eachNetwork<T>(suite: (net: BenchNetwork) => Promise<T[]>): Promise<T[]> {
  const results: T[] = [];
  for (const kind of BENCH_NETWORKS) {
    const net = await startBenchNetwork(kind);
    try {
      results.push(...(await suite(net)));
    } finally {
      await net.close();
    }
  }
  return results;
}
