/// <reference lib="webworker" />
/**
 * The worker's side of the status page (shared/status/): answers the page's `status` call
 * (shared/page-worker/) with a
 * snapshot built from what the worker already keeps (identity, router channels, the traffic
 * registry, recent failures, its caches) and runs the page's Reconnect. Every snapshot is scrubbed
 * of the secrets the worker holds before it leaves.
 */
import type { StatusOp } from '../shared/page-worker/api.ts';
import type { CacheStatus, StatusSnapshot } from '../shared/status/protocol.ts';
import { scrub } from '../shared/status/redact.ts';
import { BUILD_VERSION } from '../shared/version.ts';
import { recentFailures } from './tunnel/fail-closed.ts';
import { traffic } from './tunnel/traffic.ts';
import type { Tunnel } from './tunnel/tunnel.ts';
import type { OpenWebSocket } from './websocket-bridge.ts';

declare const self: ServiceWorkerGlobalScope;

/** What the status code needs of the worker's state (WorkerState has it). */
export interface StatusSource {
  tunnel(): Promise<Tunnel | undefined>;
  cookieJar(): Promise<{ cookieHeader(url: string): Promise<string> }>;
  readonly expired: boolean;
}

const startedAt = Date.now();
/** Cache sizes are counted at most this often (it reads every entry's headers). */
const CACHE_CHECK_MS = 10_000;
let cacheCheck: {
  at: number;
  result: Promise<Pick<StatusSnapshot['worker'], 'caches' | 'storage'>>;
};

async function countCaches(): Promise<Pick<StatusSnapshot['worker'], 'caches' | 'storage'>> {
  const caches: CacheStatus[] = [];
  for (const name of await self.caches.keys()) {
    const cache = await self.caches.open(name);
    const responses = await cache.matchAll();
    let bytes = 0;
    for (const r of responses) bytes += Number(r.headers.get('content-length')) || 0;
    caches.push({ name, entries: responses.length, bytes });
  }
  const estimate = await navigator.storage?.estimate?.().catch(() => undefined);
  return {
    caches,
    ...(estimate?.usage !== undefined && estimate.quota !== undefined
      ? { storage: { usage: estimate.usage, quota: estimate.quota } }
      : {}),
  };
}

function cacheSizes(): Promise<Pick<StatusSnapshot['worker'], 'caches' | 'storage'>> {
  const now = Date.now();
  if (!cacheCheck || now - cacheCheck.at > CACHE_CHECK_MS) {
    cacheCheck = { at: now, result: countCaches().catch(() => ({ caches: [] })) };
  }
  return cacheCheck.result;
}

/** Every secret the worker holds that a string in a snapshot could conceivably contain. */
async function secretsOf(source: StatusSource, tunnel: Tunnel | undefined): Promise<string[]> {
  const secrets: string[] = [];
  const identity = tunnel?.identity;
  if (identity) {
    secrets.push(identity.apiSession.token);
    if (identity.apiSession.oidc) secrets.push(identity.apiSession.oidc.refreshToken);
    const idp = identity.idp;
    if (idp) {
      secrets.push(idp.presented, idp.accessToken);
      if (idp.idToken) secrets.push(idp.idToken);
      if (idp.refreshToken) secrets.push(idp.refreshToken);
    }
  }
  const header = await (await source.cookieJar())
    .cookieHeader(`${self.location.origin}/`)
    .catch(() => '');
  for (const pair of header.split(/;\s*/)) {
    const value = pair.slice(pair.indexOf('=') + 1);
    if (value) secrets.push(value, decodeURIComponent(value));
  }
  return secrets;
}

export async function statusSnapshot(source: StatusSource): Promise<StatusSnapshot> {
  const tunnel = await source.tunnel().catch(() => undefined);
  traffic.sample();
  const [identity, routers, cacheInfo] = await Promise.all([
    tunnel?.identityStatus(source.expired),
    tunnel?.routerStatus(true) ?? [],
    cacheSizes(),
  ]);
  const snapshot: StatusSnapshot = {
    at: Date.now(),
    online: navigator.onLine,
    worker: {
      version: BUILD_VERSION,
      scope: self.registration.scope,
      startedAt,
      updateWaiting: self.registration.waiting !== null,
      ...cacheInfo,
    },
    ...(identity ? { identity } : {}),
    routers,
    services: traffic.services(),
    webSockets: traffic.webSockets(),
    throughput: traffic.throughput(),
    failures: recentFailures(),
  };
  return scrub(snapshot, await secretsOf(source, tunnel));
}

/** Answers one status call: the snapshot, after a reconnect when asked (a failure is thrown). */
export async function statusCall(op: StatusOp, source: StatusSource): Promise<StatusSnapshot> {
  if (op === 'reconnect') {
    const tunnel = await source.tunnel();
    if (!tunnel) throw new Error('nobody is signed in on this browser');
    await tunnel.reconnect();
  }
  return statusSnapshot(source);
}

/** Wraps a WebSocket opener so the registry counts the socket while it is open. */
export function countWebSocket(open: OpenWebSocket): { open: OpenWebSocket; closed(): void } {
  let done: (() => void) | undefined;
  return {
    open: async (url, protocols) => {
      const opened = await open(url, protocols);
      done = traffic.webSocketOpened(url);
      return opened;
    },
    closed: () => done?.(),
  };
}
