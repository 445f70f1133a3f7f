/**
 * What the status page (`/__zt/status`) shows: the snapshot the service worker answers its `status`
 * call with (shared/page-worker/). The snapshot is built from counters the worker keeps anyway; it
 * never holds a token, a cookie value or a key (see README.md).
 */
/** Where the page lives (answered by the worker) and the file the build writes it to. */
export const STATUS_PATH = '/__zt/status';
export const STATUS_FILE = '/__zt/status.html';

/** A failure with the worker's classification (the kinds its error pages use, sw/tunnel/fail-closed.ts). */
export interface FailureRecord {
  /** Epoch ms. */
  at: number;
  /** e.g. `router-unreachable`, `identity-expired`, `dial-failed`. */
  kind: string;
  message: string;
}

export interface IdentityStatus {
  /** The OpenZiti identity's name. */
  name: string;
  controller: string;
  /** The app's service. */
  service: string;
  /** The IdP's issuer and when the token presented to the controller expires (epoch ms). */
  idp?: { issuer: string; expiresAt: number; refreshable: boolean };
  /** The external-JWT signer used at login, when known. */
  signer?: string;
  /**
   * `legacy`: a `zt-session` API session; `oidc`: the controller's OIDC session, whose access token
   * the worker refreshes (`apiSessionExpiresAt` is then that token's expiry).
   */
  sessionKind: 'legacy' | 'oidc';
  /** When the API session expires unless used (epoch ms), as the controller last said. */
  apiSessionExpiresAt?: number;
  /** OIDC: when the worker refreshes the access token (epoch ms). */
  tokenRefreshAt?: number;
  certificateNotBefore: number;
  certificateNotAfter: number;
  /** When the worker renews the certificate. */
  certificateRenewalAt: number;
  enrolledAt: number;
  /** The identity could not be renewed: a new login is needed. */
  expired: boolean;
}

export type RouterState = 'connected' | 'connecting' | 'backing-off' | 'closed';

export interface RouterStatus {
  /** The WebSocket URL the worker connects to. */
  url: string;
  state: RouterState;
  /** Round trip of the channel's last latency probe. */
  latencyMs?: number;
  latencyAt?: number;
  /** WebSocket + TLS + hello, the last time it connected. */
  connectMs?: number;
  connectedAt?: number;
  /** Failed connects in a row. */
  failures: number;
  /** When the next connect may be tried (backing off). */
  retryAt?: number;
  lastFailure?: FailureRecord;
}

export interface CircuitStatus {
  /** Edge connection id on its channel. */
  connId: number;
  circuitId?: string;
  /** Host of the router the circuit runs through. */
  router?: string;
  openedAt: number;
  bytesIn: number;
  bytesOut: number;
  encrypted: boolean;
  /** The router granted SDK flow control: the circuit's buffering is bounded by its window. */
  flowControlled: boolean;
}

export interface ServiceTraffic {
  name: string;
  circuits: CircuitStatus[];
  /** Totals since the worker started, closed circuits included. */
  bytesIn: number;
  bytesOut: number;
  requests: number;
  circuitsOpened: number;
}

export interface WebSocketStatus {
  /** Origin and path only (a query may carry a token). */
  url: string;
  openedAt: number;
}

/** One point of the throughput history: cumulative counters at `at` (epoch ms). */
export type ThroughputSample = [at: number, bytesIn: number, bytesOut: number, requests: number];

export interface CacheStatus {
  name: string;
  entries: number;
  /** Sum of the entries' Content-Length where known. */
  bytes: number;
}

export interface WorkerStatus {
  version: string;
  scope: string;
  startedAt: number;
  /** A newer worker is installed and waiting. */
  updateWaiting: boolean;
  caches: CacheStatus[];
  storage?: { usage: number; quota: number };
}

export interface StatusSnapshot {
  /** When the worker built it (epoch ms). */
  at: number;
  online: boolean;
  worker: WorkerStatus;
  /** Undefined when nobody is signed in on this browser. */
  identity?: IdentityStatus;
  routers: RouterStatus[];
  services: ServiceTraffic[];
  webSockets: WebSocketStatus[];
  /** Cumulative counters over the last five minutes, oldest first. */
  throughput: ThroughputSample[];
  /** The last requests the worker could not carry, newest first. */
  failures: FailureRecord[];
}
