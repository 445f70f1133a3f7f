/**
 * Update flow: a new build of our service worker takes over open tabs at once (skipWaiting +
 * clients.claim), so nothing breaks, but the page still runs the old shim and the app's sockets
 * reconnect through the new worker. Tell the person and reload on their consent; the next navigation
 * picks the new build up anyway.
 */

export interface UpdateNoticeTarget {
  controller: unknown;
  addEventListener(type: 'controllerchange', listener: () => void): void;
}

/** Calls `notify` once, when a worker replaces the one that controlled the page at load. */
export function watchForUpdate(container: UpdateNoticeTarget, notify: () => void): void {
  if (!container.controller) return; // a first registration is no update
  let told = false;
  container.addEventListener('controllerchange', () => {
    if (told) return;
    told = true;
    notify();
  });
}

/** A small, dismissible notice with a reload button (DOM only; no inline script or markup). */
export function showUpdateNotice(doc: Document, reload: () => void): void {
  if (doc.getElementById('zt-update-notice')) return;
  const box = doc.createElement('div');
  box.id = 'zt-update-notice';
  box.setAttribute('role', 'status');
  box.style.cssText =
    'position:fixed;bottom:12px;right:12px;z-index:2147483647;padding:10px 12px;border-radius:8px;' +
    'background:#1e325c;color:#fff;font:14px/1.4 system-ui,sans-serif;box-shadow:0 2px 8px #0004';
  box.append('The secure connection was updated. ');
  const button = doc.createElement('button');
  button.type = 'button';
  button.textContent = 'Reload';
  button.addEventListener('click', reload);
  const later = doc.createElement('button');
  later.type = 'button';
  later.textContent = 'Later';
  later.addEventListener('click', () => box.remove());
  const status = doc.createElement('a');
  status.href = '/__zt/status';
  status.textContent = 'Status';
  status.style.cssText = 'color:#fff;margin-left:8px';
  box.append(button, ' ', later, status);
  (doc.body ?? doc.documentElement).append(box);
}
