/**
 * The calls our own pages make to the service worker (RPC over comlink, see rpc.ts): the bootstrap
 * page (claim, identity changed, sign-out), the status page (snapshot, reconnect) and the HTTP
 * sign-in page (credentials). The worker validates every argument: any script of the app's origin
 * can make these calls too.
 */
import type { StatusSnapshot } from '../status/protocol.ts';

export type StatusOp =
  /** The current snapshot. */
  | 'snapshot'
  /** Close every router channel and HTTP connection, connect to the app's service again, then the snapshot. */
  | 'reconnect';

/** What the HTTP sign-in page hands over. */
export interface HttpAuthCredentials {
  /** The URL that was challenged; the credentials are for its origin. */
  url: string;
  realm: string;
  user: string;
  password: string;
}

export interface WorkerApi {
  /** Take control of this (uncontrolled, e.g. shift-reloaded) page. */
  claim(): Promise<void>;
  /** The stored identity changed (login, renewal): drop in-memory state and reload it from IndexedDB. */
  identityChanged(): Promise<void>;
  /** Sign-out: close channels, forget everything in memory. */
  logout(): Promise<void>;
  /** The status page's snapshot (scrubbed of every secret), after a reconnect when asked. */
  status(op: StatusOp): Promise<StatusSnapshot>;
  /** Credentials from our sign-in page for the challenged URL's origin and realm. */
  httpAuthSignIn(credentials: HttpAuthCredentials): Promise<void>;
}

/** The methods a page may call; nothing else of the exposed object is reachable. */
export const WORKER_API_METHODS = [
  'claim',
  'identityChanged',
  'logout',
  'status',
  'httpAuthSignIn',
] as const satisfies readonly (keyof WorkerApi)[];

export type WorkerApiMethod = (typeof WORKER_API_METHODS)[number];

export function isWorkerApiMethod(name: unknown): name is WorkerApiMethod {
  return (WORKER_API_METHODS as readonly unknown[]).includes(name);
}

export function isStatusOp(op: unknown): op is StatusOp {
  return op === 'snapshot' || op === 'reconnect';
}

export function isHttpAuthCredentials(data: unknown): data is HttpAuthCredentials {
  if (typeof data !== 'object' || data === null) return false;
  const m = data as Record<string, unknown>;
  return (
    typeof m.url === 'string' &&
    typeof m.realm === 'string' &&
    typeof m.user === 'string' &&
    typeof m.password === 'string'
  );
}

/**
 * Codes of the failures a call can end with (an error the worker throws with a `code` of its own,
 * such as a `ZitiError`'s, keeps that code).
 */
export type WorkerCallErrorCode =
  /** The worker did not answer in time (stopped, busy, or not ours). */
  | 'worker-timeout'
  /** Not a call of `WorkerApi` with plain arguments. */
  | 'call-refused'
  /** The page and the worker come from different builds. */
  | 'protocol-mismatch'
  /** An argument the method does not take. */
  | 'bad-argument'
  /** The worker failed without a code of its own. */
  | 'worker-error';

/** A call that failed, on either side; `message` is meant for a person. */
export class WorkerCallError extends Error {
  readonly code: string;
  constructor(code: WorkerCallErrorCode | (string & {}), message: string) {
    super(message);
    this.name = 'WorkerCallError';
    this.code = code;
  }
}
