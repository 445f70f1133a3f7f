/**
 * Edge-router choice for a session (reference §1.8, §8 step 5): online, not disabled, has a URL
 * for the wanted protocol, lowest cost first (ties keep the controller's order).
 */
import type { EdgeRouterInfo } from './types.ts';

export interface PickedRouter {
  router: EdgeRouterInfo;
  /** The router's URL for the protocol, e.g. `wss://er1:3023`. */
  url: string;
}

/** Routers usable over `protocol`, best first. */
export function rankEdgeRouters(
  routers: readonly EdgeRouterInfo[],
  protocol: 'wss' | 'ws' | 'tls',
): PickedRouter[] {
  return routers
    .map((router, index) => ({
      router,
      index,
      url: router.supportedProtocols?.[protocol] ?? router.urls?.[protocol],
    }))
    .filter(
      (r): r is { router: EdgeRouterInfo; index: number; url: string } =>
        Boolean(r.url) && r.router.isOnline !== false && r.router.disabled !== true,
    )
    .sort((a, b) => (a.router.cost ?? 0) - (b.router.cost ?? 0) || a.index - b.index)
    .map(({ router, url }) => ({ router, url }));
}

/** The best router for `protocol`, or undefined when none qualifies. */
export function pickEdgeRouter(
  routers: readonly EdgeRouterInfo[],
  protocol: 'wss' | 'ws' | 'tls',
): PickedRouter | undefined {
  return rankEdgeRouters(routers, protocol)[0];
}

/**
 * The WebSocket address a browser opens for a router's `wss` URL: path `/ws` (reference §5, §11).
 * A plain `ws` URL is refused unless `allowPlainWs` (the local dev fabric's dev-only listener): a
 * real router offers only `wss`, and the product never sends its channel over plain WebSocket.
 */
export function routerWebSocketUrl(url: string, allowPlainWs = false): string {
  const u = new URL(url);
  if (u.protocol !== 'wss:' && !(u.protocol === 'ws:' && allowPlainWs)) {
    throw new Error(`not a usable edge-router WebSocket URL (wss only): ${url}`);
  }
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/ws';
  return u.toString();
}

/**
 * Whether the controller offers OIDC authentication: capability `OIDC_AUTH` and an `edge-oidc` v1
 * binding, the C SDK's rule (reference §1.3).
 */
export function controllerSupportsOidc(version: {
  capabilities: string[];
  apiVersions: Record<string, Record<string, unknown>>;
}): boolean {
  return (
    version.capabilities.includes('OIDC_AUTH') && version.apiVersions['edge-oidc']?.v1 !== undefined
  );
}
