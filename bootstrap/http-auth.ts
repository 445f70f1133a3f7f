/**
 * The script of our HTTP sign-in page (sw/http-auth-page.ts, which inlines it built): hands the
 * user name and password to the controlling service worker by a call (shared/page-worker/), then
 * returns to the challenged URL. Never by a form submission, which a network could receive.
 */
import { WorkerCallError } from '../shared/page-worker/api.ts';
import { callWorker } from '../shared/page-worker/rpc.ts';

/** How long the page waits for the worker before saying so. */
const ANSWER_TIMEOUT_MS = 10_000;

const form = document.getElementById('form') as HTMLFormElement;
const error = document.getElementById('error') as HTMLElement;
const field = (id: string) => (document.getElementById(id) as HTMLInputElement).value;

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const target = form.dataset.target ?? '';
  const worker = navigator.serviceWorker?.controller;
  if (!worker) {
    error.textContent = 'This page is not served by the service worker; reload it to try again.';
    return;
  }
  callWorker(worker, { timeoutMs: ANSWER_TIMEOUT_MS })
    .httpAuthSignIn({
      url: target,
      realm: form.dataset.realm ?? '',
      user: field('user'),
      password: field('password'),
    })
    .then(
      () => location.replace(target),
      (err: unknown) => {
        error.textContent =
          err instanceof WorkerCallError && err.code === 'worker-timeout'
            ? 'The service worker did not answer; try again.'
            : (err instanceof Error && err.message) || 'The service worker refused the sign-in.';
      },
    );
});
