/**
 * A response body the worker streams lives only as long as the worker. A browser stops an idle
 * worker (about 30 s after its last event) even while a body it answered is still streaming, and
 * Firefox then ends that body cleanly: the page gets a short download and no error (Firefox ESR 153,
 * measured with a 2 s idle timeout: 3 of 20 KB arrived, `content-length` 20 KB, `blob()` resolved).
 * So the fetch event lasts until the page has read the body to its end, failed, or cancelled it:
 * the handler hands `delivered` to `event.waitUntil`. Browsers still cap one event at about five
 * minutes, which bounds a single response's streaming time (README, Limitations).
 */
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
