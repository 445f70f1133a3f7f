import type { PageToWorker, WorkerReply } from '../shared/identity/messages.ts';

/** Registers `/sw.js` and resolves once a service worker is active and controls this page (no timers). */
export async function ensureServiceWorker(): Promise<ServiceWorker> {
  const registration = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  await navigator.serviceWorker.ready;
  const worker = registration.active;
  if (!worker) throw new Error('the service worker did not activate');
  if (!navigator.serviceWorker.controller) {
    // A shift-reload leaves the page uncontrolled even though our worker is active: ask it to claim.
    const controlled = new Promise<void>((resolve) =>
      navigator.serviceWorker.addEventListener('controllerchange', () => resolve(), { once: true }),
    );
    await tellWorker(worker, { type: 'zt:claim' });
    await controlled;
  }
  return worker;
}

/** Sends a message and waits for the worker's answer on a dedicated port. */
export function tellWorker(worker: ServiceWorker, message: PageToWorker): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = (event) => {
      const reply = event.data as WorkerReply;
      if (reply.ok) resolve(reply);
      else reject(new Error(reply.error ?? 'the service worker refused'));
    };
    worker.postMessage(message, [port2]);
  });
}
