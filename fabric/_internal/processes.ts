/** Helpers for the harnesses that run other programs on loopback (OpenZiti, Mattermost, nginx). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A port free right now on `host` (for programs that need a number in their config). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
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
