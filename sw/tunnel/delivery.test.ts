import { describe, expect, it, vi } from 'vitest';
import { StreamingKeepAlive, untilDelivered } from './delivery.ts';

const chunks = (n: number) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < n; i++) c.enqueue(new Uint8Array([i]));
      c.close();
    },
  });
const state = async (p: Promise<void>) =>
  Promise.race([p.then(() => 'settled'), new Promise((r) => setTimeout(r, 10, 'pending'))]);

describe('untilDelivered', () => {
  it('settles only once the page has read the body to its end', async () => {
    const { response, delivered } = untilDelivered(
      new Response(chunks(3), { status: 206, statusText: 'Partial', headers: { 'x-a': '1' } }),
    );
    expect([response.status, response.statusText, response.headers.get('x-a')]).toEqual([
      206,
      'Partial',
      '1',
    ]);
    const reader = response.body!.getReader();
    await reader.read();
    await reader.read();
    expect(await state(delivered)).toBe('pending');
    await reader.read();
    expect(await reader.read()).toEqual({ done: true, value: undefined });
    expect(await state(delivered)).toBe('settled');
  });

  it('settles when the page cancels the body, and cancels the source', async () => {
    let cancelled: unknown;
    const source = new ReadableStream<Uint8Array>({
      pull: (c) => c.enqueue(new Uint8Array(1)),
      cancel: (reason) => {
        cancelled = reason;
      },
    });
    const { response, delivered } = untilDelivered(new Response(source));
    await response.body!.getReader().cancel('page left');
    expect(await state(delivered)).toBe('settled');
    expect(cancelled).toBe('page left');
  });

  it('settles when the source fails, and the page sees the failure', async () => {
    const source = new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(new Uint8Array(1)),
      pull: (c) => c.error(new Error('tunnel closed')),
    });
    const { response, delivered } = untilDelivered(new Response(source));
    await expect(response.arrayBuffer()).rejects.toThrow('tunnel closed');
    expect(await state(delivered)).toBe('settled');
  });

  it('settles at once for a response without a body', async () => {
    const original = new Response(null, { status: 204 });
    const { response, delivered } = untilDelivered(original);
    expect(response).toBe(original);
    expect(await state(delivered)).toBe('settled');
  });
});

describe('StreamingKeepAlive', () => {
  it('asks while any tracked body streams, and stops once all are delivered', async () => {
    vi.useFakeTimers();
    try {
      let asks = 0;
      const keepAlive = new StreamingKeepAlive(() => asks++, 1000);
      let first!: () => void;
      let second!: () => void;
      keepAlive.track(new Promise<void>((r) => (first = r)));
      keepAlive.track(new Promise<void>((r) => (second = r)));
      await vi.advanceTimersByTimeAsync(2500);
      expect(asks).toBe(2);
      first();
      await vi.advanceTimersByTimeAsync(1000);
      expect([asks, keepAlive.streaming]).toEqual([3, 1]);
      second();
      await vi.advanceTimersByTimeAsync(5000);
      expect([asks, keepAlive.streaming]).toEqual([3, 0]);
      keepAlive.track(Promise.resolve());
      await vi.advanceTimersByTimeAsync(5000);
      expect(asks).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
