/**
 * A response body the worker streams lives only as long as the worker. A browser stops an idle
 * worker (about 30 s after its last event) even while a body it answered is still streaming, and
 * Firefox then ends that body cleanly: the page gets a short download and no error (Firefox ESR 153,
 * measured with a 2 s idle timeout: 3 of 20 KB arrived, `content-length` 20 KB, `blob()` resolved).
 * So the fetch event lasts until the page has read the body to its end, failed, or cancelled it:
 * the handler hands `delivered` to `event.waitUntil`.
 *
 * That is not enough in Firefox: a pending `waitUntil` buys only `idle_extended_timeout` (30 s in
 * ESR 153) past the idle timeout, so a body still streaming 60 s after the worker's last event ends
 * short there (measured: a 1 GiB download stopped at 697 MB after 60.5 s). Any new event renews
 * the lifetime, so while a body streams the worker asks the app's pages every `KEEPALIVE_ASK_MS`
 * for a message (`StreamingKeepAlive`); the same holds from the request on, while its body uploads
 * and the server thinks. A body nobody's page is open for (none has the shim) still
 * ends after a minute in Firefox. Chromium caps one event at five minutes (README, Limitations).
 */
import { KEEPALIVE_CHANNEL } from '../../shared/page-worker/names.ts';
export interface Delivery {
  /** The same response, its body read through on demand (nothing buffered). */
  response: Response;
  /** Settles once the body was read to its end, failed or was cancelled (at once without a body). */
  delivered: Promise<void>;
}

export function untilDelivered(response: Response): Delivery {
  const source = response.body;
  if (!source) return { response, delivered: Promise.resolve() };
  let settle!: () => void;
  const delivered = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const reader = source.getReader();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const r = await reader.read();
          if (r.done) {
            controller.close();
            settle();
          } else controller.enqueue(r.value);
        } catch (e) {
          controller.error(e);
          settle();
        }
      },
      cancel(reason) {
        settle();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  const { status, statusText, headers } = response;
  return { response: new Response(body, { status, statusText, headers }), delivered };
}

/** How often pages are asked for a message while a body streams: well inside the 30 s idle timeout. */
export const KEEPALIVE_ASK_MS = 5_000;

let keepAliveChannel: BroadcastChannel | undefined;
const askPages = () => {
  keepAliveChannel ??= new BroadcastChannel(KEEPALIVE_CHANNEL);
  keepAliveChannel.postMessage(null);
};

/** Asks the app's pages for a keep-alive message while at least one tracked body streams. */
export class StreamingKeepAlive {
  #streaming = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #ask: () => void;
  readonly #intervalMs: number;

  constructor(ask: () => void = askPages, intervalMs = KEEPALIVE_ASK_MS) {
    this.#ask = ask;
    this.#intervalMs = intervalMs;
  }

  /** Keeps asking until `delivered` settles (and no other tracked body streams). */
  track(delivered: Promise<void>): void {
    this.#streaming++;
    this.#timer ??= setInterval(this.#ask, this.#intervalMs);
    void delivered.finally(() => {
      if (--this.#streaming === 0 && this.#timer !== undefined) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    });
  }

  get streaming(): number {
    return this.#streaming;
  }
}
