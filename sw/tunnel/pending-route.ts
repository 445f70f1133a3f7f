import type { BootstrapConfig } from '../../shared/config/bootstrap-config.ts';
import { decideRoute, type RouteContext } from '../../shared/routing/route-decision.ts';
import type { FailureCode } from '../../shared/status/failures.ts';

/** What is known when a request of another origin arrives before the worker has its routes. */
export interface PendingFacts {
  publicOrigin: string;
  /** The routing context from the controller, if it could be had. */
  routes?: RouteContext;
  /** Someone is signed in on this browser (or it cannot be told: the tunnel failed to open). */
  signedIn: boolean;
  /** `/__zt/config.json`, if it could be read. */
  config?: BootstrapConfig;
}

export type PendingRoute =
  | { kind: 'tunnel'; service: string; host: string; port: number }
  | { kind: 'network' }
  | { kind: 'fail'; failure: FailureCode; detail: string };

/**
 * Decides a request of another origin (the app's own origin never waits for this). With routes, the
 * routing decision. Without, nothing that could be meant for the dark network goes out in clear: a
 * signed-in browser (whose controller could not be asked) holds every such request back; a browser
 * with nobody signed in holds back the hosts config.json names, and with no config.json all.
 */
export function pendingRoute(url: URL, facts: PendingFacts): PendingRoute {
  if (facts.routes) {
    const decision = decideRoute(url, facts.routes);
    return decision.kind === 'tunnel' ? decision : { kind: 'network' };
  }
  if (facts.signedIn || !facts.config) {
    return {
      kind: 'fail',
      failure: 'routes-unknown',
      detail: `the secure network could not say whether ${url.host} is one of its hosts`,
    };
  }
  const named = decideRoute(url, {
    publicOrigin: facts.publicOrigin,
    appService: facts.config.service,
    intercepts: [],
    extraIntercepts: facts.config.extraIntercepts,
  });
  return named.kind === 'tunnel'
    ? { kind: 'fail', failure: 'no-identity', detail: 'sign in on this site first' }
    : { kind: 'network' };
}
