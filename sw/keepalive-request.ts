/**
 * The worker's side of `zt/keepalive-fetch` (`bootstrap/shim/keepalive-fetch.ts`): a keepalive
 * fetch the shim handed over, as a `Request` carried the way the fetch handler carries any request,
 * answered on the message's port. Only a URL the worker tunnels is carried; anything else is
 * refused, never sent to the network (any script of the app's origin can post to the worker). The
 * page may be gone by the time the answer comes: posting to its closed port does nothing.
 */
import { headerEntries } from '../shared/http/request-head.ts';
import type {
  KeepAliveFetchAnswer,
  KeepAliveFetchMessage,
} from '../shared/page-worker/messages.ts';

/** The request the page would have sent. */
export function keepaliveRequest(message: KeepAliveFetchMessage, origin: string): Request {
  const bodyless = message.method === 'GET' || message.method === 'HEAD';
  return new Request(message.url, {
    method: message.method,
    headers: message.headers,
    body: bodyless ? null : message.body,
    credentials: message.credentials,
    mode: message.mode,
    redirect: message.redirect,
    // Only a page of ours may be named (the Request constructor refuses another origin).
    ...(message.referrer.startsWith(`${origin}/`) ? { referrer: message.referrer } : {}),
  });
}

export interface KeepaliveCarrier {
  /** Whether the worker tunnels this URL (`matchTunnelled`). */
  tunnels(url: URL): boolean;
  /** What the fetch handler answers for this request (`handleTunnelled`). */
  carry(url: URL, request: Request): Promise<Response>;
}

/** Carries one keepalive fetch and answers on `port` (when there is one); never throws. */
export async function answerKeepalive(
  message: KeepAliveFetchMessage,
  port: MessagePort | undefined,
  origin: string,
  carrier: KeepaliveCarrier,
): Promise<void> {
  let answer: KeepAliveFetchAnswer;
  let transfer: Transferable[] = [];
  try {
    const url = new URL(message.url);
    if (!carrier.tunnels(url)) throw new Error('not a URL the worker tunnels');
    const response = await carrier.carry(url, keepaliveRequest(message, origin));
    if (response.type === 'error') throw new Error('the request failed');
    const body = response.body ? await response.arrayBuffer() : null;
    answer = {
      ok: true,
      status: response.status,
      statusText: response.statusText,
      headers: headerEntries(response.headers),
      body,
    };
    if (body) transfer = [body];
  } catch (err) {
    console.warn(`[zt] keepalive fetch of ${message.url}:`, err);
    answer = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  try {
    port?.postMessage(answer, transfer);
  } catch {
    // The page is gone.
  } finally {
    port?.close();
  }
}
