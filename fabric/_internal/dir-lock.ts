import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** A lock older than this is taken to be left over from a crashed process. */
const STALE_LOCK_MS = 30_000;

/**
 * Runs `fn` while holding `<dir>/.lock` (an atomic mkdir), so two fabric processes sharing a data
 * directory (say `npm start` and the e2e harness) never interleave writing the PKI.
 */
export async function withDirLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(dir, '.lock');
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS)
          rmSync(lock, { recursive: true, force: true });
      } catch {
        // Removed meanwhile: retry.
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
