import { callWorker } from '../shared/page-worker/rpc.ts';

/** Registers `/sw.js` for the whole site (a no-op when it is registered already). */
export const registerServiceWorker = (): Promise<ServiceWorkerRegistration> =>
  navigator.serviceWorker.register('/sw.js', { scope: '/' });

/**
 * Rejects when the registration's new worker fails to install (a precached file missing, or not the
 * bytes this build recorded) and no other worker is on its way: `navigator.serviceWorker.ready`
 * would wait forever then.
 */
export function installFailure(registration: ServiceWorkerRegistration): Promise<never> {
  return new Promise((_, reject) => {
    const watch = (worker: ServiceWorker | null) => {
      worker?.addEventListener('statechange', () => {
        if (worker.state !== 'redundant') return;
        if (registration.active || registration.installing || registration.waiting) return;
        reject(
          new Error(
            'the service worker failed to install: its files could not be fetched or are not the ones this build expects',
          ),
        );
      });
    };
    watch(registration.installing);
    registration.addEventListener('updatefound', () => watch(registration.installing));
  });
}

/** Registers `/sw.js` and resolves once a service worker is active and controls this page (no timers). */
export async function ensureServiceWorker(): Promise<ServiceWorker> {
  const registration = await registerServiceWorker();
  await Promise.race([navigator.serviceWorker.ready, installFailure(registration)]);
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
