// Shown in the app's cached shell when the service worker served it offline (it adds this script
// and a <meta name="zt-offline">): a clear banner, and a reload as soon as the network is back.
(() => {
  if (window.__ztOffline) return;
  window.__ztOffline = true;
  const show = () => {
    if (document.getElementById('zt-offline-banner')) return;
    const banner = document.createElement('div');
    banner.id = 'zt-offline-banner';
    banner.setAttribute('role', 'alert');
    banner.textContent =
      'You are offline: this is the last saved copy of the app. It reconnects by itself. ';
    const status = document.createElement('a');
    status.href = '/__zt/status';
    status.textContent = 'Connection status';
    status.style.color = '#fff';
    banner.append(status);
    banner.style.cssText =
      'position:fixed;top:0;left:0;right:0;z-index:2147483647;padding:8px 12px;' +
      'background:#8a1c1c;color:#fff;font:14px/1.4 system-ui,sans-serif;text-align:center';
    document.body.prepend(banner);
  };
  if (document.body) show();
  else document.addEventListener('DOMContentLoaded', show, { once: true });
  // Back online: a fresh navigation goes through the tunnel again (no new login needed).
  window.addEventListener('online', () => location.reload(), { once: true });
})();
