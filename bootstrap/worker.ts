import { callWorker } from '../shared/page-worker/rpc.ts';

/** Registers `/sw.js` for the whole site (a no-op when it is registered already). */
export const registerServiceWorker = (): Promise<ServiceWorkerRegistration> =>
  navigator.serviceWorker.register('/sw.js', { scope: '/' });

/** Registers `/sw.js` and resolves once a service worker is active and controls this page (no timers). */
export async function ensureServiceWorker(): Promise<ServiceWorker> {
  const registration = await registerServiceWorker();
  await navigator.serviceWorker.ready;
  const worker = registration.active;
  if (!worker) throw new Error('the service worker did not activate');
  if (!navigator.serviceWorker.controller) {
    // A shift-reload leaves the page uncontrolled even though our worker is active: ask it to claim.
    const controlled = new Promise<void>((resolve) =>
      navigator.serviceWorker.addEventListener('controllerchange', () => resolve(), { once: true }),
    );
    await callWorker(worker).claim();
    await controlled;
  }
  return worker;
}
