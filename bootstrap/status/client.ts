import {
  STATUS_MESSAGE,
  type StatusReply,
  type StatusRequest,
} from '../../shared/status/protocol.ts';

/** Where a message to the worker goes: the page's controller (a ServiceWorker). */
export interface StatusTarget {
  postMessage(message: unknown, transfer: Transferable[]): void;
}

/**
 * Asks the worker once and waits for its reply on a dedicated port, at most `timeoutMs` (a stopped
 * or busy worker must not freeze the page: it then shows the last state it has).
 */
export function askWorker(
  target: StatusTarget,
  op: StatusRequest['op'],
  timeoutMs: number,
): Promise<StatusReply> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    const timer = setTimeout(() => {
      port1.close();
      resolve({ ok: false, error: `the service worker did not answer within ${timeoutMs} ms` });
    }, timeoutMs);
    port1.onmessage = (event) => {
      clearTimeout(timer);
      port1.close();
      resolve(event.data as StatusReply);
    };
    const request: StatusRequest = { type: STATUS_MESSAGE, op };
    target.postMessage(request, [port2]);
  });
}
