import { HttpPool } from '../../shared/http/index.ts';
import { controllerAuth, tokenRefreshDue } from '../../shared/identity/api-session.ts';
import { CONFIG_TYPES } from '../../shared/identity/sdk-info.ts';
import type { StoredIdentity } from '../../shared/identity/store.ts';
import type { DialableService } from '../../shared/routing/route-decision.ts';
import type { IdentityStatus, RouterStatus } from '../../shared/status/protocol.ts';
import { hasWebSocketStream } from '../../shared/streams/websocket-stream.ts';
import {
  ControllerClient,
  dialService,
  type EdgeConnection,
  type InterceptV1,
  ZitiAuthenticationError,
  ZitiDialError,
  type ZitiService,
  type ZitiSession,
} from '../../shared/ziti/index.ts';
import type { CaTrust } from './ca-trust.ts';
import { interceptDialOptions } from './dial-options.ts';
import { TunnelError } from './errors.ts';
import type { FactKeeper } from './kept-facts.ts';
import { renewalDue } from './lifecycle.ts';
import { RouterChannels } from './router-channels.ts';
import { startPhases } from './start-phases.ts';
import { traffic } from './traffic.ts';

/** HTTP/1.1 connections kept per service (browsers use 6 per origin; the tunnel multiplexes them). */
const POOL_SIZE = 8;
/**
 * How a connection whose reader falls behind is handled. The worker's dials keep Data framing:
 * SDK flow control would bound each circuit by windows instead, but with it OpenZiti v1.7.2's
 * tunneler stops serving a service once a dialer vanishes mid-setup (`dialService`'s
 * `flowControl`, docs/production.md). With WebSocketStream the router socket can be paused, so a
 * full window pauses the channel and TCP pushes back on the app. A classic WebSocket cannot be
 * paused: pausing would only move the backlog into its receive queue until the whole channel
 * overflows. There each connection may run up to 256 MiB ahead of its reader (a browser can hand a
 * worker's response to the page more slowly than the tunnel delivers it), and a reader further
 * behind loses only its own connection. A download that can resume is cut much earlier
 * (`resumable.ts`).
 */
const receivePolicy = () =>
  hasWebSocketStream()
    ? ({ receiveOverflow: 'pause' } as const)
    : ({ receiveOverflow: 'close', receiveWindowBytes: 256 * 1024 * 1024 } as const);

/** Services are re-read when older than this (in the background) and after any identity change. */
const SERVICE_TTL_MS = 5 * 60_000;
/** The status page asks the controller when the API session expires at most this often. */
const API_SESSION_CHECK_MS = 60_000;

export interface ServiceIndex {
  byName: Map<string, ZitiService>;
  intercepts: DialableService[];
}

/** What a previous start of the worker learnt (`kept-facts.ts`), and where to keep what this one learns. */
export interface TunnelOptions {
  trust?: CaTrust;
  keptSessions?: Record<string, ZitiSession>;
  keeper?: FactKeeper;
}

const interceptOf = (service: ZitiService): InterceptV1 | undefined => {
  const cfg = service.config['intercept.v1'] as InterceptV1 | undefined;
  return cfg && Array.isArray(cfg.addresses) ? cfg : undefined;
};

/**
 * The OpenZiti side of the service worker for one identity: the service directory, Dial sessions,
 * router channels and an HTTP keep-alive pool per service. Built from IndexedDB state alone, so a
 * restarted worker resumes without a login; Dial sessions kept by an earlier start of the worker
 * (same API session) spare a controller round trip, and a router's refusal replaces them.
 */
export class Tunnel {
  #identity: StoredIdentity;
  readonly controller: ControllerClient;
  readonly #routers: RouterChannels;
  #services?: { at: number; index: Promise<ServiceIndex> };
  #servicesReread?: Promise<ServiceIndex>;
  readonly #sessions = new Map<string, Promise<ZitiSession>>();
  /** Dial sessions of an earlier start, by service name, until used or replaced. */
  readonly #kept: Map<string, ZitiSession>;
  /** The in-use sessions that came from `#kept` (not yet accepted by a router). */
  readonly #fromKept = new WeakSet<Promise<ZitiSession>>();
  readonly #keeper?: FactKeeper;
  readonly #pools = new Map<string, HttpPool>();
  #apiSession?: { checkedAt: number; expiresAt?: number };

  constructor(identity: StoredIdentity, options: TunnelOptions = {}) {
    this.#identity = identity;
    this.controller = new ControllerClient({
      baseUrl: identity.controller,
      ...controllerAuth(identity.apiSession),
    });
    this.#routers = new RouterChannels(identity, options.trust);
    this.#kept = new Map(Object.entries(options.keptSessions ?? {}));
    if (options.keeper) this.#keeper = options.keeper;
  }

  /**
   * Starts what the first request will wait for, side by side: the service list and the channel
   * to the routers of the service's kept Dial session or, without one, to those enrollment found
   * (so the channel opens while the Dial session is created, not after). The CA bundle is
   * confirmed beside the handshake. Failures are left to the request, which tries again.
   */
  prepare(serviceName: string): void {
    this.services().catch(() => {});
    const routers = this.#kept.get(serviceName)?.edgeRouters ?? this.#identity.routers;
    if (routers?.length) this.#routers.channelFor(routers).catch(() => {});
  }

  get identity(): StoredIdentity {
    return this.#identity;
  }

  /**
   * The same API session with a renewed certificate or a refreshed access token: new channels use
   * them, open ones stay up (told the new token); REST calls use the new token from now on.
   */
  updateIdentity(identity: StoredIdentity): void {
    this.#identity = identity;
    this.controller.auth = controllerAuth(identity.apiSession);
    this.#routers.updateIdentity(identity);
  }

  /** The service index read during this worker's life; an old one is re-read in the background. */
  services(): Promise<ServiceIndex> {
    if (!this.#services) {
      const index = this.#loadServices();
      this.#services = { at: Date.now(), index };
      index.catch(() => {
        if (this.#services?.index === index) this.#services = undefined;
      });
    } else if (Date.now() - this.#services.at > SERVICE_TTL_MS && !this.#servicesReread) {
      const index = this.#loadServices();
      this.#servicesReread = index;
      index.then(
        () => {
          this.#services = { at: Date.now(), index };
        },
        () => {},
      );
      void index.finally(() => {
        if (this.#servicesReread === index) this.#servicesReread = undefined;
      });
    }
    return this.#services.index;
  }

  async #loadServices(): Promise<ServiceIndex> {
    const list = await this.controller.services({ configTypes: [...CONFIG_TYPES] });
    startPhases.mark('services');
    const byName = new Map<string, ZitiService>();
    const intercepts: DialableService[] = [];
    for (const service of list) {
      if (!service.permissions.includes('Dial')) continue;
      byName.set(service.name, service);
      const intercept = interceptOf(service);
      if (intercept) intercepts.push({ name: service.name, intercept });
    }
    return { byName, intercepts };
  }

  async service(name: string): Promise<ZitiService> {
    const service = (await this.services()).byName.get(name);
    if (!service)
      throw new TunnelError(
        'service-unavailable',
        `this identity may not dial the service "${name}"`,
      );
    return service;
  }

  #session(service: ZitiService): Promise<ZitiSession> {
    const current = this.#sessions.get(service.id);
    if (current) return current;
    const kept = this.#kept.get(service.name);
    this.#kept.delete(service.name);
    // Only for the service id the controller lists now: a kept row names nothing by itself.
    if (kept?.serviceId === service.id && kept.type === 'Dial') {
      const session = Promise.resolve(kept);
      this.#fromKept.add(session);
      this.#sessions.set(service.id, session);
      startPhases.mark('session-kept');
      return session;
    }
    return this.#newSession(service);
  }

  /** Creates the service's Dial session, after `before` (e.g. deleting the stale one). */
  #newSession(
    service: ZitiService,
    before: Promise<unknown> = Promise.resolve(),
  ): Promise<ZitiSession> {
    const session = before.then(() => this.controller.createSession(service.id, 'Dial'));
    this.#sessions.set(service.id, session);
    session.then(
      (s) => {
        startPhases.mark('session-created');
        if (this.#sessions.get(service.id) === session) void this.#keeper?.session(service.name, s);
      },
      () => {
        if (this.#sessions.get(service.id) === session) this.#sessions.delete(service.id);
      },
    );
    return session;
  }

  /**
   * Opens one edge connection to `serviceName`. A refused dial replaces the Dial session once:
   * it is deleted at the controller and created anew. Real routers send the controller's refusal
   * ("invalid session") without an ErrorCode, so any refusal counts. Deleting first matters: an
   * OpenZiti 1.7 controller answers a second `POST /sessions` of the same API session and service
   * with a token for a session it never stores (it keeps the first), which every dial refuses. A
   * session kept from an earlier start is replaced on any failure but a refused API session (its
   * routers may be gone).
   */
  async dial(serviceName: string, target: { host: string; port: number }): Promise<EdgeConnection> {
    const service = await this.service(serviceName);
    const dialOptions = interceptDialOptions(interceptOf(service), target);
    for (let attempt = 0; ; attempt++) {
      const pending = this.#session(service);
      const session = await pending;
      try {
        // The dial goes out behind a new channel's hello, not a round trip after it.
        const [conn, channel] = await this.#routers.withChannel(
          session.edgeRouters,
          async (channel) => {
            const conn = await dialService(channel, {
              sessionToken: session.token,
              encryptionRequired: service.encryptionRequired,
              ...dialOptions,
              ...receivePolicy(),
            });
            return [conn, channel] as const;
          },
        );
        startPhases.mark('dialled');
        traffic.circuitOpened(serviceName, conn, conn.closed, this.#routers.hostOf(channel));
        return conn;
      } catch (err) {
        const kept = this.#fromKept.has(pending) && !(err instanceof ZitiAuthenticationError);
        if (attempt > 0 || !(err instanceof ZitiDialError || kept)) throw err;
        // Concurrent dials share the session: only the first to fail replaces it, and the others
        // then wait for the replacement, which is created only once the stale one is deleted.
        if (this.#sessions.get(service.id) === pending)
          this.#newSession(
            service,
            this.controller.deleteSession(session.id).catch(() => {}),
          );
      }
    }
  }

  /** The keep-alive pool for a service and dial target (one per target). */
  pool(serviceName: string, target: { host: string; port: number }): HttpPool {
    const key = `${serviceName}|${target.host}:${target.port}`;
    let pool = this.#pools.get(key);
    if (!pool) {
      pool = new HttpPool({
        dial: async () => {
          const conn = await this.dial(serviceName, target);
          return {
            readable: conn.readable,
            writable: conn.writable,
            close: () => void conn.close(),
            capBacklog: (bytes: number | undefined) => conn.capBacklog(bytes),
          };
        },
        // The pool's default idle limit: see DEFAULT_IDLE_TIMEOUT_MS for why it is short.
        maxConnections: POOL_SIZE,
        onRequest: () => traffic.request(serviceName),
      });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /** The address the dark app is dialled at: the service's first intercept address and port. */
  async appTarget(
    serviceName: string,
    fallback: { host: string; port: number },
  ): Promise<{ host: string; port: number }> {
    const intercept = interceptOf(await this.service(serviceName));
    const host = intercept?.addresses.find((a) => !a.includes('*') && !a.includes('/'));
    const port = intercept?.portRanges[0]?.low;
    return host && port ? { host, port } : fallback;
  }

  /** Diagnostics for `/__zt/sw-status`. */
  status() {
    const { apiSession } = this.#identity;
    return {
      identity: apiSession.identityName,
      session: apiSession.oidc
        ? { kind: 'oidc', tokenRefreshAt: new Date(tokenRefreshDue(apiSession)).toISOString() }
        : { kind: 'legacy' },
      certificateNotAfter: new Date(this.#identity.certificateNotAfter).toISOString(),
      routers: this.#routers.status(),
    };
  }

  /** Who is signed in, for the status page (no token, no key). */
  async identityStatus(expired: boolean): Promise<IdentityStatus> {
    const identity = this.#identity;
    const apiSessionExpiresAt = await this.#apiSessionExpiry();
    return {
      name: identity.apiSession.identityName,
      controller: identity.controller,
      service: identity.config.service,
      ...(identity.idp
        ? {
            idp: {
              issuer: identity.idp.issuer,
              expiresAt: identity.idp.expiresAt,
              refreshable: identity.idp.refreshToken !== undefined,
            },
          }
        : {}),
      ...((identity.signer ?? identity.config.signer)
        ? { signer: identity.signer ?? identity.config.signer }
        : {}),
      sessionKind: identity.apiSession.oidc ? 'oidc' : 'legacy',
      ...(apiSessionExpiresAt !== undefined ? { apiSessionExpiresAt } : {}),
      ...(identity.apiSession.oidc
        ? { tokenRefreshAt: Math.round(tokenRefreshDue(identity.apiSession)) }
        : {}),
      certificateNotBefore: identity.certificateNotBefore,
      certificateNotAfter: identity.certificateNotAfter,
      certificateRenewalAt: Math.round(renewalDue(identity)),
      enrolledAt: identity.enrolledAt,
      expired,
    };
  }

  /** The API session's expiry as the controller last said (asked at most once a minute). */
  async #apiSessionExpiry(): Promise<number | undefined> {
    // An OIDC session lasts as long as it is refreshed; what expires is the access token.
    const oidc = this.#identity.apiSession.oidc;
    if (oidc) return oidc.expiresAt;
    const now = Date.now();
    if (!this.#apiSession || now - this.#apiSession.checkedAt > API_SESSION_CHECK_MS) {
      const checked: { checkedAt: number; expiresAt?: number } = { checkedAt: now };
      this.#apiSession = checked;
      const session = await this.controller.currentApiSession().catch(() => undefined);
      const at = session?.expiresAt ? Date.parse(session.expiresAt) : Number.NaN;
      if (Number.isFinite(at)) checked.expiresAt = at;
      else if (session?.expirationSeconds !== undefined)
        checked.expiresAt = now + session.expirationSeconds * 1000;
    }
    return this.#apiSession.expiresAt;
  }

  /** Every known router with its state and latency (fresh probes when `probe`). */
  routerStatus(probe: boolean): Promise<RouterStatus[]> {
    return this.#routers.details(probe);
  }

  /**
   * Drops every HTTP connection and router channel, then connects to the app's service again:
   * the status page's Reconnect. Requests in flight fail; the next ones use the new channel.
   */
  async reconnect(): Promise<void> {
    for (const pool of this.#pools.values()) pool.close();
    this.#pools.clear();
    this.#services = undefined;
    await this.#routers.closeChannels();
    const service = await this.service(this.#identity.config.service);
    const session = await this.#session(service);
    await this.#routers.channelFor(session.edgeRouters);
  }

  async close(): Promise<void> {
    for (const pool of this.#pools.values()) pool.close();
    this.#pools.clear();
    await this.#routers.closeAll();
  }
}
