/**
 * The page shim: injected by the service worker as the first element of the app's <head>, so it runs
 * before any app script. It must never throw into the app.
 */
import { guardServiceWorkerRegister } from './shim/register-guard.ts';

if (!('__ztShim' in window)) {
  Object.defineProperty(window, '__ztShim', { value: true });
  if ('serviceWorker' in navigator) guardServiceWorkerRegister(navigator.serviceWorker);
}
