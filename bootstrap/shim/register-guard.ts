/**
 * The app's own `navigator.serviceWorker.register` must not replace ours (that would take the app off
 * the tunnel). It gets a registration-like object that does nothing, and the attempt is logged.
 */
export function guardServiceWorkerRegister(container: ServiceWorkerContainer): void {
  const inert = (scriptURL: string | URL, options?: RegistrationOptions) => {
    const scope = new URL(options?.scope ?? './', new URL(String(scriptURL), location.href)).href;
    console.info(
      `[zt] the app's service worker ${String(scriptURL)} was not registered: this page is served by the zero-trust service worker.`,
    );
    const noop = () => {};
    return Promise.resolve({
      scope,
      active: null,
      installing: null,
      waiting: null,
      updateViaCache: 'imports',
      navigationPreload: undefined,
      onupdatefound: null,
      update: () => Promise.resolve(),
      unregister: () => Promise.resolve(true),
      addEventListener: noop,
      removeEventListener: noop,
      dispatchEvent: () => true,
    } as unknown as ServiceWorkerRegistration);
  };
  Object.defineProperty(container, 'register', {
    value: inert,
    configurable: true,
    writable: true,
  });
}
