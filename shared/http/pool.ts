import type { ByteDuplex } from '../streams/duplex.ts';
import { HttpConnection, type HttpRequest, type HttpUpgradeResult } from './connection.ts';
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  IDEMPOTENT_METHODS,
  KEEP_ALIVE_MARGIN_MS,
} from './constants.ts';
import { HttpAbortError, HttpConnectionClosedError, HttpPoolClosedError } from './errors.ts';
import type { HttpResponse } from './response.ts';

/** Opens one new byte stream to the pool's origin (for us: one OpenZiti edge connection). */
export type HttpDial = () => Promise<ByteDuplex & { close(): void }>;

export interface HttpPoolOptions {
  dial: HttpDial;
  /** Open connections at most (busy + idle + being dialed); further requests queue. */
  maxConnections?: number;
  /**
   * An idle connection is closed after this long, or sooner when the server's last response
   * announced a shorter `Keep-Alive: timeout` (less a margin).
   */
  idleTimeoutMs?: number;
  maxHeadBytes?: number;
  maxHeaders?: number;
  /** Called once per request and upgrade as it starts (statistics: a counter, nothing awaited). */
  onRequest?: () => void;
}

export interface HttpPoolStats {
  open: number;
  idle: number;
  queued: number;
  dials: number;
  /** Requests and upgrades started. */
  requests: number;
}

interface Lease {
  conn: HttpConnection;
  reused: boolean;
}

interface Waiter {
  resolve(lease: Lease): void;
  reject(err: unknown): void;
}

/**
 * Keep-alive connections to one origin (one service). A request takes an idle connection (most
 * recently used first) or dials a new one, and waits in FIFO order when `maxConnections` are busy.
 * A request that fails because a reused connection turned out to be closed by the server before
 * any response byte is retried once on a fresh connection, if its method is idempotent and its body
 * is replayable (none, or bytes); a streamed body is never replayed.
 */
export class HttpPool {
  readonly #dial: HttpDial;
  readonly #max: number;
  readonly #idleTimeoutMs: number;
  readonly #limits: { maxHeadBytes?: number; maxHeaders?: number };
  #open = 0;
  #dials = 0;
  #requests = 0;
  readonly #onRequest: (() => void) | undefined;
  #closed = false;
  readonly #conns = new Set<HttpConnection>();
  readonly #idle: HttpConnection[] = [];
  readonly #timers = new Map<HttpConnection, ReturnType<typeof setTimeout>>();
  /** Per connection: how long it may idle, from its last response's `Keep-Alive` field. */
  readonly #idleLimits = new WeakMap<HttpConnection, number>();
  readonly #waiters: Waiter[] = [];

  constructor(options: HttpPoolOptions) {
    this.#dial = options.dial;
    this.#max = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.#limits = { maxHeadBytes: options.maxHeadBytes, maxHeaders: options.maxHeaders };
    this.#onRequest = options.onRequest;
    if (!(this.#max >= 1)) throw new RangeError('maxConnections must be at least 1');
  }

  get stats(): HttpPoolStats {
    return {
      open: this.#open,
      idle: this.#idle.length,
      queued: this.#waiters.length,
      dials: this.#dials,
      requests: this.#requests,
    };
  }

  /** Sends a request; resolves with the response once its head arrived. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    this.#requests++;
    this.#onRequest?.();
    const lease = await this.#acquire(req.signal, false);
    try {
      return await this.#send(lease.conn, req);
    } catch (e) {
      if (!(lease.reused && isRetryable(req, e))) throw e;
    }
    // The server closed the kept-alive connection as we reused it: it never saw the request.
    const fresh = await this.#acquire(req.signal, true);
    return this.#send(fresh.conn, req);
  }

  /**
   * Sends an upgrade request (a WebSocket handshake) on a dedicated new connection that does not
   * count against `maxConnections`; on 101 the caller owns the returned stream.
   */
  async upgrade(req: HttpRequest): Promise<HttpUpgradeResult> {
    if (this.#closed) throw new HttpPoolClosedError();
    this.#requests++;
    this.#onRequest?.();
    const duplex = await this.#dial();
    this.#dials++;
    const conn = new HttpConnection(duplex, { ...this.#limits, onIdle: (c) => c.close() });
    try {
      return await conn.upgrade(req);
    } catch (e) {
      conn.close();
      throw e;
    }
  }

  /** Closes every connection and fails queued requests; busy responses fail as they read. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w.reject(new HttpPoolClosedError());
    for (const c of [...this.#conns]) c.close();
  }

  async #send(conn: HttpConnection, req: HttpRequest): Promise<HttpResponse> {
    try {
      const response = await conn.request(req);
      this.#idleLimits.set(conn, idleLimit(response.headers, this.#idleTimeoutMs));
      return response;
    } catch (e) {
      // Rejected before anything was sent (an invalid head): the connection is still good.
      if (conn.state === 'idle') this.#onIdle(conn);
      throw e;
    }
  }

  #acquire(signal: AbortSignal | undefined, fresh: boolean): Promise<Lease> {
    if (this.#closed) return Promise.reject(new HttpPoolClosedError());
    if (signal?.aborted)
      return Promise.reject(new HttpAbortError(undefined, { cause: signal.reason }));
    if (!fresh) {
      const conn = this.#takeIdle();
      if (conn) return Promise.resolve({ conn, reused: true });
    } else if (this.#open >= this.#max) {
      // A retry must not wait behind others: make room by dropping an idle connection.
      this.#takeIdle()?.close();
    }
    if (this.#open < this.#max) return this.#dialNew();
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (lease) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(lease);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        waiter.reject(new HttpAbortError(undefined, { cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #takeIdle(): HttpConnection | undefined {
    for (;;) {
      const conn = this.#idle.pop();
      if (!conn) return undefined;
      clearTimeout(this.#timers.get(conn));
      this.#timers.delete(conn);
      if (conn.state === 'idle') return conn;
    }
  }

  async #dialNew(): Promise<Lease> {
    this.#open++;
    let duplex: ByteDuplex & { close(): void };
    try {
      duplex = await this.#dial();
    } catch (e) {
      this.#open--;
      this.#pump();
      throw new HttpConnectionClosedError(
        `could not open a connection: ${e instanceof Error ? e.message : String(e)}`,
        true,
        { cause: e },
      );
    }
    this.#dials++;
    const conn = new HttpConnection(duplex, {
      ...this.#limits,
      onIdle: (c) => this.#onIdle(c),
      onClose: (c) => this.#onClose(c),
    });
    this.#conns.add(conn);
    if (this.#closed) {
      conn.close();
      throw new HttpPoolClosedError();
    }
    return { conn, reused: false };
  }

  #onIdle(conn: HttpConnection): void {
    if (this.#closed) {
      conn.close();
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter.resolve({ conn, reused: true });
      return;
    }
    const limit = this.#idleLimits.get(conn) ?? this.#idleTimeoutMs;
    if (limit <= 0) {
      conn.close();
      return;
    }
    this.#idle.push(conn);
    this.#timers.set(
      conn,
      setTimeout(() => conn.close(), limit),
    );
  }

  #onClose(conn: HttpConnection): void {
    if (!this.#conns.delete(conn)) return;
    this.#open--;
    clearTimeout(this.#timers.get(conn));
    this.#timers.delete(conn);
    const i = this.#idle.indexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
    this.#pump();
  }

  /** A slot freed up: dial for the longest-waiting request. */
  #pump(): void {
    while (!this.#closed && this.#waiters.length > 0 && this.#open < this.#max) {
      const waiter = this.#waiters.shift()!;
      this.#dialNew().then(waiter.resolve, waiter.reject);
    }
  }
}

/**
 * How long a connection may idle after a response: the pool's limit, or less when the response
 * announced `Keep-Alive: timeout=N` (RFC 2068 §19.7.1.1, still sent by Node and Apache), less a
 * margin so the server never closes a connection just as we reuse it.
 */
export function idleLimit(headers: Headers, poolLimitMs: number): number {
  const timeout = /(?:^|[,;\s])timeout=(\d+)/i.exec(headers.get('keep-alive') ?? '')?.[1];
  if (timeout === undefined) return poolLimitMs;
  return Math.min(poolLimitMs, Number(timeout) * 1000 - KEEP_ALIVE_MARGIN_MS);
}

function isRetryable(req: HttpRequest, e: unknown): boolean {
  return (
    e instanceof HttpConnectionClosedError &&
    e.beforeResponse &&
    !req.signal?.aborted &&
    IDEMPOTENT_METHODS.has(req.method.toUpperCase()) &&
    (req.body == null || req.body instanceof Uint8Array)
  );
}
