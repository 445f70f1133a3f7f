import { RESERVED_PREFIX } from '../version.ts';

/** The `intercept.v1` config of a service (the fields routing needs). */
export interface InterceptV1 {
  protocols: readonly string[];
  /** Hostnames (`chat.corp`), wildcards (`*.corp.example`), IP literals, CIDRs (`10.0.0.0/8`). */
  addresses: readonly string[];
  portRanges: readonly { low: number; high: number }[];
}

/** A service this identity may dial, with its intercept config. */
export interface DialableService {
  name: string;
  intercept: InterceptV1;
}

export interface RouteContext {
  /** Origin the app is served under (`https://chat.example.com`, `http://localhost:8080`). */
  publicOrigin: string;
  /** The service that carries the app itself. */
  appService: string;
  /** Services with an `intercept.v1` config and Dial permission. */
  intercepts: readonly DialableService[];
  /** `host` or `host:port` entries of config.json's `extraIntercepts`: carried by `appService`. */
  extraIntercepts?: readonly string[];
}

/** config.json's `extraIntercepts` as intercept configs of the app's service. */
function extraInterceptServices(ctx: RouteContext): DialableService[] {
  return (ctx.extraIntercepts ?? []).map((entry) => {
    const [, host = entry, port] = /^(.*?)(?::(\d+))?$/.exec(entry) ?? [];
    const range = port ? { low: Number(port), high: Number(port) } : { low: 1, high: 65535 };
    return {
      name: ctx.appService,
      intercept: { protocols: ['tcp'], addresses: [host], portRanges: [range] },
    };
  });
}

export type RouteDecision =
  | { kind: 'tunnel'; service: string; host: string; port: number }
  | { kind: 'own' }
  | { kind: 'network' };

const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  'http:': 80,
  'https:': 443,
  'ws:': 80,
  'wss:': 443,
};

/**
 * Decides where a request goes. The app's origin goes over the tunnel (`appService`), except our
 * own files (`/__zt/*`, `/sw.js`); a URL whose host and port match a dialable service's
 * `intercept.v1` (tcp) goes over that service, one named by config.json's `extraIntercepts` over the
 * app's service; everything else goes to the network.
 * Among several matching services the most specific address wins: an exact name or IP, then the
 * longest wildcard suffix or CIDR prefix, then the first listed.
 */
export function decideRoute(input: URL | string, ctx: RouteContext): RouteDecision {
  const url = typeof input === 'string' ? new URL(input) : input;
  const port = DEFAULT_PORTS[url.protocol];
  if (port === undefined) return { kind: 'network' };
  const effectivePort = url.port ? Number(url.port) : port;
  const host = normaliseHost(url.hostname);
  if (
    url.origin === new URL(ctx.publicOrigin).origin &&
    (url.protocol === 'http:' || url.protocol === 'https:')
  ) {
    if (url.pathname === '/sw.js' || url.pathname.startsWith(RESERVED_PREFIX))
      return { kind: 'own' };
    return { kind: 'tunnel', service: ctx.appService, host, port: effectivePort };
  }
  let best: { service: string; score: number } | undefined;
  for (const svc of [...ctx.intercepts, ...extraInterceptServices(ctx)]) {
    const cfg = svc.intercept;
    if (!cfg.protocols.some((p) => p.toLowerCase() === 'tcp')) continue;
    if (!cfg.portRanges.some((r) => r.low <= effectivePort && effectivePort <= r.high)) continue;
    for (const address of cfg.addresses) {
      const score = matchAddress(address, host);
      if (score > 0 && (!best || score > best.score)) best = { service: svc.name, score };
    }
  }
  return best
    ? { kind: 'tunnel', service: best.service, host, port: effectivePort }
    : { kind: 'network' };
}

/** Lower case, IPv6 brackets and a trailing root dot removed. */
function normaliseHost(hostname: string): string {
  let h = hostname.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** 0 when `address` does not match `host`; otherwise higher means more specific. */
export function matchAddress(address: string, host: string): number {
  const a = normaliseHost(address.trim());
  if (a.includes('/')) {
    const [net, bitsText] = a.split('/') as [string, string];
    const bits = Number(bitsText);
    const hostIp = parseIp(host);
    const netIp = parseIp(net);
    if (!hostIp || !netIp || hostIp.v !== netIp.v || !/^\d{1,3}$/.test(bitsText)) return 0;
    const width = hostIp.v === 4 ? 32 : 128;
    if (bits > width) return 0;
    const shift = BigInt(width - bits);
    return hostIp.n >> shift === netIp.n >> shift ? 1000 + bits : 0;
  }
  const hostIp = parseIp(host);
  if (hostIp) {
    const ip = parseIp(a);
    return ip && ip.v === hostIp.v && ip.n === hostIp.n ? 10_000 : 0;
  }
  if (a.startsWith('*.')) {
    // A wildcard covers subdomains at any depth, not the bare domain (as DNS wildcards do).
    const suffix = a.slice(1);
    return host.endsWith(suffix) && host.length > suffix.length ? suffix.length : 0;
  }
  return a === host ? 10_000 : 0;
}

/** Parses an IPv4 or IPv6 literal to a number, or undefined. */
function parseIp(s: string): { v: 4 | 6; n: bigint } | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4) {
    let n = 0n;
    for (let i = 1; i <= 4; i++) {
      const o = Number(v4[i]);
      if (o > 255) return undefined;
      n = (n << 8n) | BigInt(o);
    }
    return { v: 4, n };
  }
  if (!s.includes(':') || !/^[0-9a-f:.]+$/.test(s)) return undefined;
  let text = s;
  // An embedded IPv4 tail (::ffff:10.0.0.1) becomes two hex groups.
  const tail = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (tail) {
    const o = tail.slice(1).map(Number);
    if (o.some((x) => x > 255)) return undefined;
    text = `${text.slice(0, tail.index)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/.test(g)) return undefined;
    n = (n << 16n) | BigInt(Number.parseInt(g, 16));
  }
  return { v: 6, n };
}
