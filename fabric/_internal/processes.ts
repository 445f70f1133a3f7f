/** Helpers for the harnesses that run other programs on loopback (OpenZiti, Mattermost, nginx). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * The first port of the kernel's ephemeral range, from which it picks the local port of every
 * outgoing connection (Linux: `ip_local_port_range`, 32768 by default).
 */
function ephemeralLow(): number {
  try {
    const low = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
    );
    if (Number.isInteger(low) && low > 0) return low;
  } catch {
    // Not Linux: the IANA range.
    return 49152;
  }
  return 32768;
}

const PORTS_FROM = 10_000;
/** Ports handed out by this process, never handed out twice. */
const handedOut = new Set<number>();

const canListen = (port: number, host: string) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });

/**
 * A port free now on `host`, for programs that need a number in their config and bind it later
 * (OpenZiti's router binds its own seconds after it was chosen). Taken below the kernel's
 * ephemeral range: a port the kernel picked (`listen(0)`) could meanwhile become the local port
 * of any outgoing connection on the machine, and the program then fails with EADDRINUSE. Below
 * that range only another listener can take it, and the test servers listen on port 0.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const below = ephemeralLow();
  if (below - PORTS_FROM < 1000)
    throw new Error(`the ephemeral port range starts at ${below}: no room below it`);
  for (let tries = 0; tries < 100; tries++) {
    const port = PORTS_FROM + Math.floor(Math.random() * (below - PORTS_FROM));
    if (handedOut.has(port)) continue;
    // Marked before the check, so that calls running side by side never share a port.
    handedOut.add(port);
    if (await canListen(port, host)) return port;
    handedOut.delete(port);
  }
  throw new Error(`no free port on ${host} between ${PORTS_FROM} and ${below - 1}`);
}

/** The last `lines` lines of a log file ('' if it cannot be read), for error messages. */
export function tailFile(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Runs a build script that prints the built binary's path last (building only what is not cached)
 * and returns that path; the script's progress goes to our stderr.
 */
export function builtBinary(script: string): string {
  return execFileSync(script, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    .trim()
    .split('\n')
    .at(-1)!;
}

/** What `pollUntil` ended with: the probe's value, or why it gave up. */
export type PollResult<T> = { value: T } | { exited: boolean; why: string };

/**
 * Calls `probe` every `intervalMs` until it yields a value (errors count as "not yet"), `exited()`
 * says the awaited process is gone, or `timeoutMs` passes; `why` names the last error then.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs: number; exited?: () => boolean },
): Promise<PollResult<T>> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: unknown;
  for (;;) {
    if (opts.exited?.()) return { exited: true, why: '' };
    try {
      const value = await probe();
      if (value !== undefined) return { value };
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : '';
      return { exited: false, why };
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}
