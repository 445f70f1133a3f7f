/// <reference lib="webworker" />
import { del, get, set } from 'idb-keyval';
import { type BootstrapConfig, loadBootstrapConfig } from '../../shared/config/bootstrap-config.ts';
import { tokenRefreshDue } from '../../shared/identity/api-session.ts';
import { loadIdentity, type StoredIdentity, ztStore } from '../../shared/identity/store.ts';
import type { RouteContext } from '../../shared/routing/route-decision.ts';
import { ControllerClient } from '../../shared/ziti/index.ts';
import { COOKIE_JAR_KEY, CookieJar } from '../cookie-jar.ts';
import { EventStreams } from '../event-stream.ts';
import { HttpAuthStore } from '../http-auth.ts';
import { APP_CACHE, forgetCachedKeys } from '../offline-cache.ts';
import { CaTrust, sameBundle } from './ca-trust.ts';
import { ensureJarOwner } from './jar-owner.ts';
import { FactKeeper, type FactRows, KEPT_FACTS_KEY, keptFactsOf } from './kept-facts.ts';
import { KEEP_ALIVE_MS, maintainIdentity, maintenanceDue } from './lifecycle.ts';
import { startPhases } from './start-phases.ts';
import { Tunnel } from './tunnel.ts';

declare const self: ServiceWorkerGlobalScope;

/** After the lifecycle failed (controller unreachable), an OIDC identity tries again this soon. */
const MAINTENANCE_RETRY_MS = 10_000;

/**
 * The worker's in-memory state: the tunnel for the stored identity, the app's cookie jar, and the
 * routing context (which hosts go over which service).
 *
 * What decides where requests go and whom to trust is never taken from storage: IndexedDB is shared
 * with the app's page script, so a stored controller, CA bundle or intercept list could have been
 * rewritten by it. On every worker start the controller and service come from `/__zt/config.json`,
 * the routers' CA bundle from that controller, and the intercepts from its service list; the stored
 * identity supplies only what is the person's own (key, certificate, sessions, IdP tokens). What an
 * earlier start learnt (`kept-facts.ts`: the CA bundle, Dial sessions) only lets the router
 * connection start beside those controller round trips, and is used once the controller agrees.
 */
export class WorkerState {
  #tunnel?: Promise<Tunnel | undefined>;
  #jar?: Promise<CookieJar>;
  #config?: Promise<BootstrapConfig>;
  /** Derived from the controller during this worker's life; never read back from storage. */
  #routes?: RouteContext;
  #routesReady: Promise<RouteContext | undefined>;
  #maintainedAt = Date.now();
  #maintaining?: Promise<void>;
  #maintenanceTimer?: ReturnType<typeof setTimeout>;
  #signedOut = false;
  /** Keeps what the current tunnel learns for the next start of the worker. */
  #keeper?: FactKeeper;
  /** The identity could not be renewed: navigations go to the bootstrap page for a new login. */
  expired = false;
  /** The last identity upkeep that did something or failed, and when (diagnostics). */
  upkeep?: { at: number; outcome: string };
  /** The app's HTTP authentication credentials (Basic), in memory only: see `http-auth.ts`. */
  readonly httpAuth = new HttpAuthStore();
  /** The last event id of the app's event streams, by page and URL (`event-stream.ts`). */
  readonly eventStreams = new EventStreams({
    // Blink (the engine that exposes navigator.userAgentData) drops the header under a worker.
    browserSendsIt: !('userAgentData' in self.navigator),
    liveClients: async () =>
      (await self.clients.matchAll({ includeUncontrolled: true, type: 'all' })).map((c) => c.id),
  });

  constructor() {
    this.#routesReady = this.#loadRoutes();
  }

  /** `/__zt/config.json` from our site, once per worker start (again after a failure). */
  config(): Promise<BootstrapConfig> {
    if (!this.#config) {
      const config = loadBootstrapConfig((input, init) =>
        fetch(new URL(String(input), self.location.origin), init),
      );
      this.#config = config;
      config.catch(() => {
        if (this.#config === config) this.#config = undefined;
      });
    }
    return this.#config;
  }

  /** Undefined when nobody is signed in, or the controller cannot be asked (then: fail closed). */
  async #loadRoutes(): Promise<RouteContext | undefined> {
    const tunnel = await this.tunnel().catch(() => undefined);
    if (!tunnel) return undefined;
    const { intercepts } = await tunnel.services();
    const routes: RouteContext = {
      publicOrigin: self.location.origin,
      appService: tunnel.identity.config.service,
      intercepts,
      extraIntercepts: tunnel.identity.config.extraIntercepts,
    };
    this.#routes = routes;
    return routes;
  }

  /** The routing context once this worker has read it from the controller; undefined before. */
  routeContext(): RouteContext | undefined {
    return this.#routes;
  }

  /** Waits for the routing context; undefined if there is no identity or no answer to be had. */
  routeContextReady(): Promise<RouteContext | undefined> {
    return this.#routesReady
      .catch(() => undefined)
      .then((routes) => {
        // A failed attempt (controller briefly unreachable) is retried by the next request.
        if (!routes) this.#routesReady = this.#loadRoutes();
        return routes;
      });
  }

  /** The tunnel for the stored identity, or undefined when nobody is signed in on this browser. */
  tunnel(): Promise<Tunnel | undefined> {
    if (!this.#tunnel) {
      const tunnel = this.#openTunnel();
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
      if (!force && now - this.#maintainedAt < KEEP_ALIVE_MS && now < maintenanceDue(t.identity)) {
        // Not due yet, also when the timer fired a moment early (browsers coarsen Date.now()):
        // the timer is set again, or no refresh would come until the next request.
        this.#scheduleMaintenance(t.identity);
        return;
      }
      this.#maintainedAt = now;
      const { outcome, identity, why } = await maintainIdentity(t.identity, now, force);
      if (outcome !== 'fresh') this.upkeep = upkeepOf(outcome, why);
      if (outcome === 'expired') this.expired = true;
      else if (outcome === 'refreshed-token' || outcome === 'renewed-certificate')
        t.updateIdentity(identity);
      else if (outcome === 're-authenticated') await this.reset({ keepHttpAuth: true });
      this.#scheduleMaintenance(identity);
    });
    this.#maintaining = work
      .catch(async (err: unknown) => {
        this.upkeep = { at: Date.now(), outcome: `failed: ${(err as Error).message}` };
        // The controller could not be asked: an OIDC token still has to be refreshed before it
        // expires, request or not, so try again soon.
        const identity = (await tunnel.catch(() => undefined))?.identity;
        if (identity) this.#scheduleMaintenance(identity, MAINTENANCE_RETRY_MS);
      })
      .finally(() => {
        this.#maintaining = undefined;
      });
    return this.#maintaining;
  }

  /**
   * An OIDC access token must be refreshed while the worker lives even when no request comes (a
   * long download, the app's WebSocket): a timer runs the lifecycle when it is due. A stopped
   * worker loses the timer; its next start refreshes a stale token before using it.
   */
  #scheduleMaintenance(
    identity: StoredIdentity,
    wait = Math.max(0, maintenanceDue(identity) - Date.now()),
  ): void {
    clearTimeout(this.#maintenanceTimer);
    if (!identity.apiSession.oidc) return;
    this.#maintenanceTimer = setTimeout(() => void this.maintain(), wait);
  }

  /**
   * The stored identity with the controller, service settings and CA bundle of this start: an
   * identity enrolled at another controller than config.json names counts as none (sign in again).
   * An OIDC access token that went stale while no worker ran is refreshed first.
   */
  async #openTunnel(): Promise<Tunnel | undefined> {
    const rows = factRows();
    const [stored, config, keptRow] = await Promise.all([
      loadIdentity(),
      this.config(),
      rows.get(KEPT_FACTS_KEY).catch(() => undefined),
    ]);
    startPhases.mark('identity');
    if (this.#signedOut || !stored || stored.controller !== config.controller) return undefined;
    let kept = keptFactsOf(keptRow, stored);
    // The controller's CA bundle is asked at once, beside everything else; routers are trusted by
    // it alone (a kept or enrolled bundle only starts their handshake early, `ca-trust.ts`).
    const anonymous = new ControllerClient({ baseUrl: config.controller });
    const trust = new CaTrust(async () => {
      const bundle = await anonymous.caBundle();
      startPhases.mark('ca');
      return bundle;
    }, kept?.caBundle ?? stored.caBundle);
    trust.confirmed().catch(() => {});
    let identity = stored;
    if (identity.apiSession.oidc && Date.now() >= tokenRefreshDue(identity.apiSession)) {
      const maintained = await maintainIdentity(identity);
      this.upkeep = upkeepOf(maintained.outcome, maintained.why);
      if (maintained.outcome === 'expired') this.expired = true;
      identity = maintained.identity;
      this.#maintainedAt = Date.now();
    }
    this.#scheduleMaintenance(identity);
    if (this.#signedOut) return undefined;
    // A new login replaced the API session: its Dial sessions are not this one's.
    if (identity.apiSession.id !== stored.apiSession.id) kept = undefined;
    const keeper = new FactKeeper(rows, identity);
    this.#keeper = keeper;
    trust.confirmed().then(
      (bundle) => {
        if (!kept?.caBundle || !sameBundle(kept.caBundle, bundle)) void keeper.caBundle(bundle);
      },
      () => {},
    );
    const tunnel = new Tunnel(
      { ...identity, config },
      { trust, keeper, ...(kept ? { keptSessions: kept.sessions } : {}) },
    );
    startPhases.mark('tunnel');
    tunnel.prepare(config.service);
    return tunnel;
  }

  /** The app's cookie jar, first wiped if it was made for another identity than the signed-in one. */
  cookieJar(): Promise<CookieJar> {
    if (!this.#jar) {
      const store = ztStore();
      const rows = {
        get: (key: string) => get(key, store),
        set: (key: string, value: unknown) => set(key, value, store),
      };
      const jar = (async () => {
        const identity = await loadIdentity();
        await ensureJarOwner(identity?.apiSession.identityId, rows, async () => {
          await del(COOKIE_JAR_KEY, store);
          await caches.delete(APP_CACHE);
          forgetCachedKeys();
        });
        return CookieJar.open(rows);
      })();
      this.#jar = jar;
      jar.catch(() => {
        if (this.#jar === jar) this.#jar = undefined;
      });
    }
    return this.#jar;
  }

  /**
   * Drops everything in memory (identity changed or logout); the next request reloads from IndexedDB
   * (after a sign-out: nothing, until the identity changes). The app's HTTP credentials go too,
   * except when the same identity only re-authenticated.
   */
  async reset({ keepHttpAuth = false, signedOut = false } = {}): Promise<void> {
    // A refresh in flight spends the stored refresh token: let it store the next one first, so a
    // sign-out revokes the token that is current rather than one already used.
    if (!keepHttpAuth) {
      await this.#maintaining;
      this.httpAuth.clear();
    }
    this.eventStreams.clear();
    const tunnel = await this.#tunnel?.catch(() => undefined);
    this.#tunnel = undefined;
    // What the dropped tunnel learnt belongs to its API session: wiped before anything reopens.
    await this.#keeper?.stop({ wipe: true }).catch(() => {});
    this.#keeper = undefined;
    this.#jar = undefined;
    this.#config = undefined;
    this.#routes = undefined;
    this.expired = false;
    // After a sign-out nothing is opened again (no refresh can spend the token the page revokes)
    // until the bootstrap page reports a new identity.
    this.#signedOut = signedOut;
    this.#routesReady = this.#loadRoutes();
    clearTimeout(this.#maintenanceTimer);
    await tunnel?.close();
  }
}

/** The kept facts' row in the identity's store. */
const factRows = (): FactRows => {
  const store = ztStore();
  return {
    get: (key) => get(key, store),
    set: (key, value) => set(key, value, store),
    del: (key) => del(key, store),
  };
};

/** What `/__zt/sw-status` says of an upkeep: its outcome, and why an identity expired. */
const upkeepOf = (outcome: string, why?: string) => ({
  at: Date.now(),
  outcome: why ? `${outcome}: ${why}` : outcome,
});
