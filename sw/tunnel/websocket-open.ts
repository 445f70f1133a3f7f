/// <reference lib="webworker" />

import { decideRoute } from '../../shared/routing/route-decision.ts';
import { connectWebSocket } from '../../shared/websocket/index.ts';
import { announceCookies } from '../cookie-bridge.ts';
import { sameSite } from '../request-context.ts';
import type { OpenedWebSocket } from '../websocket-bridge.ts';
import type { WorkerState } from './worker-state.ts';

declare const self: ServiceWorkerGlobalScope;

/**
 * Opens one of the app's WebSockets over the tunnel: an HTTP/1.1 Upgrade on its own edge connection,
 * with the app's cookies from the jar and the public origin as `Origin` (Mattermost checks that it
 * matches `Host`), exactly what the browser would have sent to the app directly.
 */
export async function openTunnelledWebSocket(
  state: WorkerState,
  url: string,
  protocols: string[],
): Promise<OpenedWebSocket> {
  const wsUrl = new URL(url);
  const httpUrl = new URL(wsUrl.href.replace(/^ws/, 'http'));
  const tunnel = await state.tunnel();
  if (!tunnel || state.expired) throw new Error('not signed in');
  const publicOrigin = self.location.origin;
  // The app's own origin needs no routing context; another host is carried only if the controller
  // says it is dark, and never opened when it cannot be asked.
  const routes = (await state.routeContextReady()) ?? {
    publicOrigin,
    appService: tunnel.identity.config.service,
    intercepts: [],
    extraIntercepts: tunnel.identity.config.extraIntercepts,
  };
  const decision = decideRoute(httpUrl, routes);
  if (decision.kind !== 'tunnel') throw new Error(`${wsUrl.host} is not carried by the tunnel`);
  const ownApp = httpUrl.origin === publicOrigin;
  const target = ownApp
    ? await tunnel.appTarget(decision.service, { host: decision.host, port: decision.port })
    : { host: decision.host, port: decision.port };
  const jar = await state.cookieJar();
  // The handshake is the page's own subresource request: SameSite as for any other.
  const cookie = await jar.cookieHeader(
    httpUrl.href,
    sameSite(new URL(publicOrigin), httpUrl) ? 'strict' : 'none',
  );
  const pool = tunnel.pool(decision.service, target);
  const headers: [string, string][] = [['User-Agent', navigator.userAgent]];
  if (cookie) headers.push(['Cookie', cookie]);
  const opened = await connectWebSocket((req) => pool.upgrade(req), {
    url: httpUrl,
    protocols,
    origin: publicOrigin,
    ...(ownApp && tunnel.identity.config.upstreamHost === 'intercept'
      ? { host: `${target.host}:${target.port}` }
      : {}),
    headers,
  });
  if (opened.response.setCookies.length > 0) {
    await jar.setFromResponse(httpUrl.href, opened.response.setCookies);
    if (ownApp) await announceCookies(jar, httpUrl.href);
  }
  return { protocol: opened.protocol, extensions: opened.extensions, conn: opened.conn };
}
