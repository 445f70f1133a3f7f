import { pemToDer } from '../../shared/asn1/pem.ts';
import type { StoredIdentity } from '../../shared/identity/store.ts';
import type { FailureRecord, RouterStatus } from '../../shared/status/protocol.ts';
import { openWebSocketDuplex } from '../../shared/streams/websocket-stream.ts';
import { connectTls } from '../../shared/tls/index.ts';
import {
  type Channel,
  type EdgeRouterInfo,
  rankEdgeRouters,
  routerWebSocketUrl,
  startChannel,
  updateToken,
  ZitiAuthenticationError,
  ZitiTimeoutError,
} from '../../shared/ziti/index.ts';
import { CaTrust, openTrusted } from './ca-trust.ts';
import { TunnelError } from './errors.ts';
import { startPhases } from './start-phases.ts';

/** Backoff after a failed connect: doubles from the first value up to the last. */
const BACKOFF_MS = { first: 500, max: 15_000 } as const;

/** A channel being connected: `started` once its hello is written, `opened` once answered. */
interface Connecting {
  started: Promise<Channel>;
  opened: Promise<Channel>;
}

interface RouterState {
  /** The channel, once its hello is answered (rejects if it never is). */
  channel?: Promise<Channel>;
  /** While connecting: the channel whose hello is on its way, for requests to go behind it. */
  connecting?: Connecting;
  /** The channel once open (status page: its latency probe). */
  live?: Channel;
  /** Time of the last successful connect (WebSocket + TLS + hello), a latency estimate. */
  connectMs?: number;
  connectedAt?: number;
  failures: number;
  retryAt: number;
  /** Why the last channel to this router ended (diagnostics). */
  lastClose?: string;
  /** The last failed connect or broken channel, classified as the worker's error pages are. */
  lastFailure?: FailureRecord;
}

/**
 * `use` on a channel as soon as its hello is written, and its result once the hello was answered
 * too. `routerError`: the channel never opened (WebSocket, TLS, or the hello refused or
 * unanswered); `use`'s own failure on a channel that opened is thrown.
 */
async function behindHello<T>(
  connecting: Connecting,
  use: (channel: Channel) => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; routerError: unknown }> {
  let channel: Channel;
  try {
    channel = await connecting.started;
  } catch (routerError) {
    return { ok: false, routerError };
  }
  // A refused hello closes the channel, which fails `use` too: the hello's reason is the one told.
  const [used, opened] = await Promise.allSettled([use(channel), connecting.opened]);
  if (opened.status === 'rejected') return { ok: false, routerError: opened.reason };
  if (used.status === 'rejected') throw used.reason;
  return { ok: true, value: used.value };
}

/** A refused session is the identity's problem; anything else is the router's. */
const routerFailure = (err: unknown, at = Date.now()): FailureRecord => ({
  at,
  kind: err instanceof ZitiAuthenticationError ? 'identity-expired' : 'router-unreachable',
  message: err instanceof Error ? err.message : String(err),
});

/**
 * The names an edge router's certificate may carry: the hosts of every listener the controller
 * advertises for it (`supportedProtocols`, `urls`) and its `hostname`. The inner TLS accepts a
 * router certificate valid for any one of them. Not only the `wss` host: a production router's
 * `wss` listener has a public name that its network certificate (`server_cert`, enrolled for
 * `edge.csr.sans`) must not carry, while its `tls` listener's host must be in it for SDKs.
 */
export function routerServerNames(router: EdgeRouterInfo): string[] {
  const names = new Set<string>();
  if (router.hostname) names.add(router.hostname.toLowerCase());
  for (const url of [
    ...Object.values(router.supportedProtocols ?? {}),
    ...Object.values(router.urls ?? {}),
  ]) {
    try {
      const host = new URL(url).hostname.toLowerCase();
      if (host) names.add(host);
    } catch {
      // not a URL: names nothing
    }
  }
  return [...names];
}

/**
 * One channel per edge router (WebSocket -> TLS 1.3 with the session certificate -> channel V2),
 * shared by every request and tab. Picks an online router with an open channel, or the fastest
 * known one, and backs off from routers that failed.
 */
export class RouterChannels {
  readonly #routers = new Map<string, RouterState>();
  readonly #hosts = new WeakMap<Channel, string>();
  #identity: StoredIdentity;
  readonly #trust: CaTrust;

  /** `trust`: the routers' CA bundle (by default the identity's, taken as confirmed). */
  constructor(identity: StoredIdentity, trust?: CaTrust) {
    this.#identity = identity;
    this.#trust = trust ?? new CaTrust(async () => identity.caBundle, identity.caBundle);
  }

  /**
   * A renewed certificate applies to channels opened from now on; open ones stay authenticated. A
   * refreshed access token is sent to every open channel (UpdateToken), so their circuits outlive
   * the old token; a channel that refuses it is closed, and the next request opens a new one.
   */
  updateIdentity(identity: StoredIdentity): void {
    const tokenChanged = identity.apiSession.token !== this.#identity.apiSession.token;
    this.#identity = identity;
    if (!tokenChanged || !identity.apiSession.oidc) return;
    for (const state of this.#routers.values())
      if (state.live) this.#sendToken(state.live, identity.apiSession.token);
  }

  /**
   * A refusal closes the channel (its circuits would be refused from the old token's expiry on).
   * No answer is not a refusal: while a slow reader holds the channel paused (`receiveOverflow:
   * 'pause'`), the reply waits behind its data, yet the router has read and applied the token.
   */
  #sendToken(channel: Channel, token: string): void {
    updateToken(channel, token).catch((err: unknown) => {
      if (err instanceof ZitiTimeoutError) return;
      console.warn(`[zt] router refused the refreshed token: ${(err as Error).message}`);
      void channel.close();
    });
  }

  /** A channel to one of `routers` whose hello was answered (see `withChannel`). */
  channelFor(routers: readonly EdgeRouterInfo[]): Promise<Channel> {
    return this.withChannel(routers, async (channel) => channel);
  }

  /**
   * Runs `use` (a dial) on a channel to one of `routers`: an open one, or else one being opened,
   * as soon as its hello is written. The dial then travels right behind the hello instead of a
   * round trip after its answer; the router reads it only once the hello passed its session
   * check. Resolves with `use`'s result once the hello was answered too. A router that fails
   * (WebSocket, TLS, hello) hands over to the next one, `use` again with it; a refused session
   * is the identity's problem and ends the search (`ZitiAuthenticationError`).
   */
  async withChannel<T>(
    routers: readonly EdgeRouterInfo[],
    use: (channel: Channel) => Promise<T>,
  ): Promise<T> {
    // `wss` only, as a real router offers (§5); a plain `ws` URL after those only when config.json
    // allows it for local development (the dev fabric's dev-only listener). The inner mutual TLS
    // authenticates both ends either way.
    const allowPlainWs = this.#identity.config.devAllowPlainWs === true;
    const ranked = [
      ...rankEdgeRouters(routers, 'wss'),
      ...(allowPlainWs ? rankEdgeRouters(routers, 'ws') : []),
    ];
    // The names each WebSocket URL's router certificate may carry (every router advertising it).
    const names = new Map<string, Set<string>>();
    for (const r of ranked) {
      const url = routerWebSocketUrl(r.url, allowPlainWs);
      const set = names.get(url) ?? new Set<string>();
      for (const n of routerServerNames(r.router)) set.add(n);
      names.set(url, set);
    }
    const urls = [...names.keys()];
    if (urls.length === 0)
      throw new TunnelError(
        'no-router',
        'no online edge router offers a WebSocket listener for this service',
      );

    const open = urls.filter((u) => this.#routers.get(u)?.channel);
    if (open.length > 0) {
      const fastest = this.#routers.get(
        open.sort(
          (a, b) => (this.#routers.get(a)!.connectMs ?? 0) - (this.#routers.get(b)!.connectMs ?? 0),
        )[0]!,
      )!;
      if (fastest.live) return use(fastest.live);
      if (fastest.connecting) {
        const outcome = await behindHello(fastest.connecting, use);
        if (outcome.ok) return outcome.value;
        // It failed while we waited: a refused session ends here, anything else connects afresh.
        if (outcome.routerError instanceof ZitiAuthenticationError) throw outcome.routerError;
      }
    }
    const now = Date.now();
    const ready = urls.filter((u) => (this.#routers.get(u)?.retryAt ?? 0) <= now);
    // When every router is backing off, still try the one due first: a request must not fail unheard.
    const order =
      ready.length > 0
        ? ready
        : [...urls]
            .sort((a, b) => this.#routers.get(a)!.retryAt - this.#routers.get(b)!.retryAt)
            .slice(0, 1);
    const errors: string[] = [];
    let last: unknown;
    for (const url of order) {
      const outcome = await behindHello(this.#connect(url, [...names.get(url)!]), use);
      if (outcome.ok) return outcome.value;
      const err = outcome.routerError;
      // A refused session is not the router's fault: report it as such so the caller re-authenticates.
      if (err instanceof ZitiAuthenticationError) throw err;
      last = err;
      errors.push(`${new URL(url).host}: ${(err as Error).message}`);
    }
    throw new TunnelError('router-unreachable', errors.join('; '), { cause: last });
  }

  #connect(url: string, serverNames: readonly string[]): Connecting {
    const state = this.#routers.get(url) ?? { failures: 0, retryAt: 0 };
    this.#routers.set(url, state);
    const started = performance.now();
    const identity = this.#identity;
    const hello = (async () => {
      // The router must prove one of its advertised names and present a server certificate
      // (serverAuth): any other certificate of the network's CA, such as a person's API-session
      // client certificate, does not make a router. No SNI: a router answers SNI for its public
      // `wss` name with the public certificate of `alt_server_certs` (§5), which the network's CA
      // did not sign, and without SNI with its network certificate (`server_cert`). The CA bundle
      // is the controller's: a kept one only starts the handshake early (`ca-trust.ts`).
      const tls = await openTrusted(this.#trust, async (anchors) => {
        const socket = await openWebSocketDuplex(url);
        startPhases.mark('router-ws');
        return connectTls(socket, {
          acceptedServerNames: serverNames,
          trustedCertificates: anchors.map((pem) => pemToDer(pem)),
          clientCertificateChain: identity.certificates.map((pem) => pemToDer(pem)),
          clientKey: identity.keyPair.privateKey,
        });
      });
      startPhases.mark('router-tls');
      return startChannel(tls, { sessionToken: identity.apiSession.token });
    })();
    const channel = hello.then(async ({ opened }) => {
      const channel = await opened;
      startPhases.mark('router-channel');
      // The token was refreshed while this channel opened with the previous one.
      const current = this.#identity.apiSession;
      if (current.oidc && current.token !== identity.apiSession.token)
        this.#sendToken(channel, current.token);
      return channel;
    });
    const connecting = { started: hello.then(({ channel }) => channel), opened: channel };
    connecting.started.catch(() => {}); // `opened` reports it, to whoever asked for the channel
    state.connecting = connecting;
    state.channel = channel;
    channel.then(
      (ch) => {
        state.connectMs = performance.now() - started;
        state.connectedAt = Date.now();
        state.failures = 0;
        state.retryAt = 0;
        state.live = ch;
        if (state.connecting === connecting) delete state.connecting;
        this.#hosts.set(ch, new URL(url).host);
        void ch.closed.then((info) => {
          if (state.channel === channel) delete state.channel;
          if (state.live === ch) delete state.live;
          if (info.initiator !== 'local') {
            state.lastClose = `${info.initiator}: ${info.error?.message ?? 'no error'}`;
            state.lastFailure = routerFailure(
              info.error ??
                new Error(`closed by the ${info.initiator === 'remote' ? 'router' : 'channel'}`),
            );
            console.warn(
              `[zt] channel to ${new URL(url).host} closed (${info.initiator}): ${info.error?.message ?? 'no error'}`,
            );
          }
        });
      },
      (err: unknown) => {
        if (state.channel === channel) delete state.channel;
        if (state.connecting === connecting) delete state.connecting;
        state.lastFailure = routerFailure(err);
        state.failures += 1;
        state.retryAt =
          Date.now() + Math.min(BACKOFF_MS.max, BACKOFF_MS.first * 2 ** (state.failures - 1));
      },
    );
    return connecting;
  }

  /** Per router: connected or not, connect time, failures, last close reason. */
  status(): Record<
    string,
    { open: boolean; connectMs?: number; failures: number; lastClose?: string }
  > {
    return Object.fromEntries(
      [...this.#routers].map(([url, s]) => [
        new URL(url).host,
        {
          open: s.channel !== undefined,
          connectMs: s.connectMs,
          failures: s.failures,
          lastClose: s.lastClose,
        },
      ]),
    );
  }

  /** The host of the router a channel goes to. */
  hostOf(channel: Channel): string | undefined {
    return this.#hosts.get(channel);
  }

  /**
   * Every router this worker knows, for the status page. `probe` first refreshes the latency of
   * open channels whose last measurement is older than `probeAfterMs` (one small channel message).
   */
  async details(probe = false, probeAfterMs = 5000): Promise<RouterStatus[]> {
    if (probe) {
      const now = Date.now();
      const stale = [...this.#routers.values()]
        .map((s) => s.live)
        .filter((ch) => ch && !ch.isClosed && now - (ch.latencyAt ?? 0) > probeAfterMs);
      // A probe waits for its answer at most briefly here; the channel keeps any late answer.
      await Promise.race([
        Promise.allSettled(stale.map((ch) => ch!.measureLatency())),
        new Promise((r) => setTimeout(r, 1000)),
      ]);
    }
    const now = Date.now();
    return [...this.#routers].map(([url, s]) => ({
      url,
      state: s.live
        ? 'connected'
        : s.channel
          ? 'connecting'
          : s.retryAt > now
            ? 'backing-off'
            : 'closed',
      ...(s.live?.latencyMs !== undefined
        ? { latencyMs: s.live.latencyMs, latencyAt: s.live.latencyAt }
        : {}),
      ...(s.connectMs !== undefined ? { connectMs: Math.round(s.connectMs) } : {}),
      ...(s.connectedAt !== undefined ? { connectedAt: s.connectedAt } : {}),
      failures: s.failures,
      ...(s.retryAt > now ? { retryAt: s.retryAt } : {}),
      ...(s.lastFailure ? { lastFailure: { ...s.lastFailure } } : {}),
    }));
  }

  /** Closes every channel but remembers the routers (reconnect): the next dial connects afresh. */
  async closeChannels(): Promise<void> {
    const channels = [...this.#routers.values()]
      .map((s) => s.channel)
      .filter((c) => c !== undefined);
    for (const s of this.#routers.values()) {
      s.failures = 0;
      s.retryAt = 0;
    }
    await Promise.allSettled(channels.map(async (c) => (await c).close()));
  }

  /** Closes every channel (logout, identity change). */
  async closeAll(): Promise<void> {
    const channels = [...this.#routers.values()]
      .map((s) => s.channel)
      .filter((c) => c !== undefined);
    this.#routers.clear();
    await Promise.allSettled(channels.map(async (c) => (await c).close()));
  }
}
