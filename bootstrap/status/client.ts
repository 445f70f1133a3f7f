import type { StatusOp } from '../../shared/page-worker/api.ts';
import { callWorker, type WorkerTarget } from '../../shared/page-worker/rpc.ts';
import type { StatusSnapshot } from '../../shared/status/protocol.ts';

/** The worker's answer, or why there is none (shown on the page as it is). */
export type StatusReply = { ok: true; snapshot: StatusSnapshot } | { ok: false; error: string };

/**
 * Asks the worker once, at most `timeoutMs` (a stopped or busy worker must not freeze the page: it
 * then shows the last state it has).
 */
export async function askWorker(
  target: WorkerTarget,
  op: StatusOp,
  timeoutMs: number,
): Promise<StatusReply> {
  try {
    return { ok: true, snapshot: await callWorker(target, { timeoutMs }).status(op) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
