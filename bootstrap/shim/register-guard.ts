/**
 * The app's own service-worker calls must neither replace ours nor remove it (either would take the
 * app off the tunnel: the next navigation would go to the open network).
 *
 * - `register()` registers nothing: the app gets an inert registration for the scope it asked for
 *   (logged once per script).
 * - `getRegistrations()`, `getRegistration()` and `ready` hand the app only those inert
 *   registrations, as if its own worker were the only one: `ready` resolves once the app registered
 *   one for this page, as it would once the app's worker were active, and never hands over ours.
 *   The first such call is logged once.
 * - `ServiceWorkerRegistration.prototype.unregister` refuses our registration, should the app reach
 *   it some other way (say, through the prototype's `ready` getter); it resolves `true`, as if done.
 *
 * Inert registrations do nothing: `update()` resolves, `unregister()` forgets them, their `active`
 * worker drops messages, push and notifications are unavailable.
 */

/** Our worker's script path (the only registration this origin must keep). */
const OUR_SCRIPT = '/sw.js';

export interface RegisterGuardEnvironment {
  /** The page's URL (scopes and `getRegistration()` resolve against it). */
  pageUrl(): string;
  /** `ServiceWorkerRegistration.prototype`, whose `unregister` is guarded (absent: not guarded). */
  registrationPrototype?: { unregister(): Promise<boolean> } | undefined;
  log(message: string): void;
}

const browserEnvironment = (): RegisterGuardEnvironment => ({
  pageUrl: () => location.href,
  registrationPrototype: globalThis.ServiceWorkerRegistration?.prototype,
  log: (message) => console.info(message),
});

const noop = () => {};

function inertWorker(scriptURL: string) {
  return {
    scriptURL,
    state: 'activated',
    onstatechange: null,
    onerror: null,
    postMessage: noop,
    addEventListener: noop,
    removeEventListener: noop,
    dispatchEvent: () => true,
  };
}

const unavailable = (what: string) =>
  Promise.reject(new DOMException(`${what} is not available to this app`, 'NotAllowedError'));

function inertRegistration(
  scope: string,
  scriptURL: string,
  forget: () => void,
): ServiceWorkerRegistration {
  const registration = {
    scope,
    active: inertWorker(scriptURL),
    installing: null,
    waiting: null,
    updateViaCache: 'imports',
    navigationPreload: {
      enable: () => Promise.resolve(),
      disable: () => Promise.resolve(),
      setHeaderValue: () => Promise.resolve(),
      getState: () => Promise.resolve({ enabled: false, headerValue: 'true' }),
    },
    pushManager: {
      getSubscription: () => Promise.resolve(null),
      permissionState: () => Promise.resolve('denied'),
      subscribe: () => unavailable('push'),
    },
    onupdatefound: null,
    update: () => Promise.resolve(registration),
    unregister: () => {
      forget();
      return Promise.resolve(true);
    },
    showNotification: () => unavailable('showNotification'),
    getNotifications: () => Promise.resolve([]),
    addEventListener: noop,
    removeEventListener: noop,
    dispatchEvent: () => true,
  };
  return registration as unknown as ServiceWorkerRegistration;
}

/** Whether `registration` is ours: its worker runs our script at the page's origin. */
function isOurs(registration: unknown, pageUrl: string): boolean {
  const r = registration as Partial<Record<'active' | 'waiting' | 'installing', unknown>> | null;
  if (!r || typeof r !== 'object') return false;
  const ours = new URL(OUR_SCRIPT, pageUrl).href;
  return [r.active, r.waiting, r.installing].some(
    (w) => !!w && typeof w === 'object' && (w as { scriptURL?: unknown }).scriptURL === ours,
  );
}

export function guardServiceWorkerRegister(
  container: ServiceWorkerContainer,
  env: RegisterGuardEnvironment = browserEnvironment(),
): void {
  /** The app's inert registrations by scope, as the browser keeps real ones. */
  const registrations = new Map<string, ServiceWorkerRegistration>();
  let resolveReady: (r: ServiceWorkerRegistration) => void = noop;
  const ready = new Promise<ServiceWorkerRegistration>((resolve) => {
    resolveReady = resolve;
  });
  let noted = false;
  const note = () => {
    if (noted) return;
    noted = true;
    env.log(
      '[zt] the app asked for its service-worker registrations: it sees only its own, which do nothing; this page is served by the zero-trust service worker, which stays registered.',
    );
  };
  /** The registration whose scope is the longest prefix of `url`, as the browser matches them. */
  const matching = (url: string) => {
    let best: ServiceWorkerRegistration | undefined;
    for (const [scope, r] of registrations)
      if (url.startsWith(scope) && scope.length > (best?.scope.length ?? -1)) best = r;
    return best;
  };

  const register = (scriptURL: string | URL, options?: RegistrationOptions) => {
    const script = new URL(String(scriptURL), env.pageUrl()).href;
    const scope = new URL(options?.scope ?? './', script).href;
    env.log(
      `[zt] the app's service worker ${String(scriptURL)} was not registered: this page is served by the zero-trust service worker.`,
    );
    let registration = registrations.get(scope);
    if (!registration) {
      registration = inertRegistration(scope, script, () => registrations.delete(scope));
      registrations.set(scope, registration);
    }
    if (matching(env.pageUrl()) === registration) resolveReady(registration);
    return Promise.resolve(registration);
  };
  const getRegistration = (clientURL?: string | URL) => {
    note();
    return Promise.resolve(matching(new URL(String(clientURL ?? ''), env.pageUrl()).href));
  };
  const getRegistrations = () => {
    note();
    return Promise.resolve([...registrations.values()]);
  };

  const own = { configurable: true, writable: true } as const;
  Object.defineProperty(container, 'register', { value: register, ...own });
  Object.defineProperty(container, 'getRegistration', { value: getRegistration, ...own });
  Object.defineProperty(container, 'getRegistrations', { value: getRegistrations, ...own });
  Object.defineProperty(container, 'ready', {
    configurable: true,
    get: () => {
      note();
      return ready;
    },
  });

  const proto = env.registrationPrototype;
  if (proto && typeof proto.unregister === 'function') {
    const unregister = proto.unregister;
    Object.defineProperty(proto, 'unregister', {
      ...own,
      value: function (this: ServiceWorkerRegistration) {
        if (isOurs(this, env.pageUrl())) {
          note();
          return Promise.resolve(true);
        }
        return unregister.call(this);
      },
    });
  }
}
