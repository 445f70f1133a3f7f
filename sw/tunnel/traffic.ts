/**
 * Traffic statistics for the status page, at no cost to the data path: each edge connection
 * counts its own payload bytes in two plain fields (shared/ziti/edge/connection.ts), each HTTP pool
 * calls back once per request, and this registry only remembers which connections are open. Sums
 * are taken when someone asks.
 */
import type {
  CircuitStatus,
  ServiceTraffic,
  WebSocketStatus,
} from '../../shared/status/protocol.ts';
import { ThroughputHistory, type Totals } from '../../shared/status/throughput.ts';
import type { EdgeConnection } from '../../shared/ziti/index.ts';

interface OpenCircuit {
  service: string;
  router: string | undefined;
  openedAt: number;
}

interface ServiceTotals {
  /** Bytes of circuits already closed. */
  bytesIn: number;
  bytesOut: number;
  requests: number;
  circuitsOpened: number;
}

type Counted = Pick<
  EdgeConnection,
  'connId' | 'circuitId' | 'encrypted' | 'flowControlled' | 'bytesIn' | 'bytesOut'
>;

export class Traffic {
  readonly #open = new Map<Counted, OpenCircuit>();
  readonly #services = new Map<string, ServiceTotals>();
  readonly #webSockets = new Set<WebSocketStatus>();
  readonly #history = new ThroughputHistory();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  #service(name: string): ServiceTotals {
    let totals = this.#services.get(name);
    if (!totals) {
      totals = { bytesIn: 0, bytesOut: 0, requests: 0, circuitsOpened: 0 };
      this.#services.set(name, totals);
    }
    return totals;
  }

  /** Remembers an open circuit until `closed` settles; its bytes then move to the service's totals. */
  circuitOpened(service: string, conn: Counted, closed: Promise<unknown>, router?: string): void {
    this.#service(service).circuitsOpened++;
    this.#open.set(conn, { service, router, openedAt: this.#now() });
    this.sample();
    void closed.then(() => {
      if (!this.#open.delete(conn)) return;
      const totals = this.#service(service);
      totals.bytesIn += conn.bytesIn;
      totals.bytesOut += conn.bytesOut;
      this.sample();
    });
  }

  /** One HTTP request or WebSocket upgrade started on `service`. */
  request(service: string): void {
    this.#service(service).requests++;
  }

  /** A tunnelled WebSocket is open until the returned function is called. */
  webSocketOpened(url: string): () => void {
    const parsed = new URL(url);
    const entry = { url: `${parsed.origin}${parsed.pathname}`, openedAt: this.#now() };
    this.#webSockets.add(entry);
    return () => void this.#webSockets.delete(entry);
  }

  totals(): Totals {
    const sum = { bytesIn: 0, bytesOut: 0, requests: 0 };
    for (const t of this.#services.values()) {
      sum.bytesIn += t.bytesIn;
      sum.bytesOut += t.bytesOut;
      sum.requests += t.requests;
    }
    for (const conn of this.#open.keys()) {
      sum.bytesIn += conn.bytesIn;
      sum.bytesOut += conn.bytesOut;
    }
    return sum;
  }

  /** Adds a point to the throughput history (at most about one a second). */
  sample(): void {
    this.#history.sample(this.#now(), this.totals());
  }

  services(): ServiceTraffic[] {
    const circuits = new Map<string, CircuitStatus[]>();
    for (const [conn, c] of this.#open) {
      const list = circuits.get(c.service) ?? [];
      list.push({
        connId: conn.connId,
        ...(conn.circuitId ? { circuitId: conn.circuitId } : {}),
        ...(c.router ? { router: c.router } : {}),
        openedAt: c.openedAt,
        bytesIn: conn.bytesIn,
        bytesOut: conn.bytesOut,
        encrypted: conn.encrypted,
        flowControlled: conn.flowControlled,
      });
      circuits.set(c.service, list);
    }
    return [...this.#services].map(([name, t]) => {
      const open = circuits.get(name) ?? [];
      return {
        name,
        circuits: open.sort((a, b) => a.openedAt - b.openedAt),
        bytesIn: t.bytesIn + open.reduce((n, c) => n + c.bytesIn, 0),
        bytesOut: t.bytesOut + open.reduce((n, c) => n + c.bytesOut, 0),
        requests: t.requests,
        circuitsOpened: t.circuitsOpened,
      };
    });
  }

  webSockets(): WebSocketStatus[] {
    return [...this.#webSockets].map((w) => ({ ...w }));
  }

  throughput() {
    return this.#history.samples();
  }
}

/** The worker's one registry: it outlives tunnels (a re-login keeps the history). */
export const traffic = new Traffic();
