import { BUILD_VERSION } from '../shared/version.ts';

const steps = document.getElementById('steps') as HTMLOListElement;

function step(label: string): (state: 'done') => void {
  const li = document.createElement('li');
  li.textContent = label;
  li.dataset.state = 'active';
  steps.append(li);
  return (state) => {
    li.dataset.state = state;
  };
}

/** Resolves once a service worker controls this page: on `controllerchange`, never a timer. */
function untilControlled(): Promise<void> {
  if (navigator.serviceWorker.controller) return Promise.resolve();
  return new Promise((resolve) =>
    navigator.serviceWorker.addEventListener('controllerchange', () => resolve(), { once: true }),
  );
}

async function main(): Promise<void> {
  const registering = step('Starting the secure channel');
  await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  await untilControlled();
  registering('done');
  document.documentElement.dataset.ztReady = BUILD_VERSION;
}

main().catch((err: unknown) => {
  const box = document.getElementById('error') as HTMLParagraphElement;
  box.textContent = `Could not start: ${err instanceof Error ? err.message : String(err)}`;
  box.hidden = false;
});
