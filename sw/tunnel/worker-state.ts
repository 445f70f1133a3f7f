/// <reference lib="webworker" />
import { get, set } from 'idb-keyval';
import { loadIdentity, ztStore } from '../../shared/identity/store.ts';
import { CookieJar } from '../cookie-jar.ts';
import type { RouteContext } from '../route-decision.ts';
import { KEEP_ALIVE_MS, maintainIdentity, renewalDue } from './lifecycle.ts';
import { Tunnel } from './tunnel.ts';

declare const self: ServiceWorkerGlobalScope;

const ROUTES_KEY = 'route-context';

/**
 * The worker's in-memory state, rebuilt from IndexedDB whenever the browser restarts the worker:
 * the tunnel for the stored identity, the app's cookie jar, and the routing context (which hosts go
 * over which service), kept synchronously readable because workbox match callbacks are synchronous.
 */
export class WorkerState {
  #tunnel?: Promise<Tunnel | undefined>;
  #jar?: Promise<CookieJar>;
  #routes?: RouteContext;
  #routesReady: Promise<RouteContext | undefined>;
  #maintainedAt = Date.now();
  #maintaining?: Promise<void>;
  /** The identity could not be renewed: navigations go to the bootstrap page for a new login. */
  expired = false;

  constructor() {
    this.#routesReady = this.#loadRoutes();
  }

  async #loadRoutes(): Promise<RouteContext | undefined> {
    const stored = await get<RouteContext>(ROUTES_KEY, ztStore()).catch(() => undefined);
    if (stored?.publicOrigin === self.location.origin) this.#routes = stored;
    // Refresh from the controller in the background; the stored copy answers meanwhile.
    const fresh = this.#refreshRoutes();
    return this.#routes ?? fresh;
  }

  async #refreshRoutes(): Promise<RouteContext | undefined> {
    const tunnel = await this.tunnel().catch(() => undefined);
    if (!tunnel) return undefined;
    const { intercepts } = await tunnel.services();
    const routes: RouteContext = {
      publicOrigin: self.location.origin,
      appService: tunnel.identity.config.service,
      intercepts,
    };
    this.#routes = routes;
    await set(ROUTES_KEY, routes, ztStore()).catch(() => {});
    return routes;
  }

  routeContext(): RouteContext | undefined {
    return this.#routes;
  }

  routeContextReady(): Promise<RouteContext | undefined> {
    return this.#routesReady.catch(() => undefined);
  }

  /** The tunnel for the stored identity, or undefined when nobody is signed in on this browser. */
  tunnel(): Promise<Tunnel | undefined> {
    if (!this.#tunnel) {
      const tunnel = loadIdentity().then((identity) =>
        identity ? new Tunnel(identity) : undefined,
      );
      this.#tunnel = tunnel;
      tunnel.catch(() => {
        if (this.#tunnel === tunnel) this.#tunnel = undefined;
      });
    }
    return this.#tunnel;
  }

  /**
   * Runs the identity lifecycle when due (keep-alive, certificate renewal, re-authentication). Called
   * on use rather than by timers, since the browser stops idle workers anyway; returns the work so
   * the caller can hand it to `event.waitUntil`. `force` runs it now (the router or controller just
   * refused the session).
   */
  maintain(force = false): Promise<void> | undefined {
    if (this.#maintaining) return this.#maintaining;
    const tunnel = this.#tunnel;
    if (!tunnel) return undefined;
    const work = tunnel.then(async (t) => {
      if (!t) return;
      const now = Date.now();
      if (!force && now - this.#maintainedAt < KEEP_ALIVE_MS && now < renewalDue(t.identity))
        return;
      this.#maintainedAt = now;
      const { outcome, identity } = await maintainIdentity(t.identity, now);
      if (outcome === 'expired') this.expired = true;
      else if (outcome === 'renewed-certificate') t.updateIdentity(identity);
      else if (outcome === 're-authenticated') await this.reset();
    });
    this.#maintaining = work
      .catch(() => {})
      .finally(() => {
        this.#maintaining = undefined;
      });
    return this.#maintaining;
  }

  cookieJar(): Promise<CookieJar> {
    const store = ztStore();
    this.#jar ??= CookieJar.open({
      get: (key) => get(key, store),
      set: (key, value) => set(key, value, store),
    });
    return this.#jar;
  }

  /** Drops everything in memory (identity changed or logout); the next request reloads from IndexedDB. */
  async reset(): Promise<void> {
    const tunnel = await this.#tunnel?.catch(() => undefined);
    this.#tunnel = undefined;
    this.#jar = undefined;
    this.#routes = undefined;
    this.expired = false;
    this.#routesReady = this.#loadRoutes();
    await tunnel?.close();
  }
}
