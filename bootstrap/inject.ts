/**
 * `/__zt/bootstrap.js`: one classic script a reverse proxy may inject into every HTML page of the app's
 * origin. If our service worker already controls the page it does nothing; otherwise it sends the
 * browser to the bootstrap page (login, enrollment, worker registration), which comes back to this
 * very URL. Idempotent: injecting it twice, or into the bootstrap page itself, is harmless.
 */
import { RESERVED_PREFIX } from '../shared/version.ts';
import { bootstrapUrlFor } from './return-target.ts';

/** What the script looks at, injectable for tests. */
export interface InjectEnvironment {
  location: { origin: string; pathname: string; search: string; hash: string };
  /** `navigator.serviceWorker`, or undefined where the browser has none (or the context is insecure). */
  serviceWorker: { controller: { scriptURL: string } | null } | undefined;
  /** The document is our bootstrap page (it marks itself with `<meta name="zt-bootstrap">`). */
  isBootstrapPage: boolean;
  /** Set once per document so a second copy of the script stays quiet. */
  alreadyRan: boolean;
}

export type InjectDecision =
  | { action: 'none'; reason: 'already-ran' | 'bootstrap-page' | 'controlled' | 'unsupported' }
  | { action: 'bootstrap'; url: string };

/** Our worker controls the page when the controlling script is this origin's `/sw.js`. */
function ourWorker(scriptURL: string, origin: string): boolean {
  try {
    const url = new URL(scriptURL);
    return url.origin === origin && url.pathname === '/sw.js';
  } catch {
    return false;
  }
}

export function decide(env: InjectEnvironment): InjectDecision {
  if (env.alreadyRan) return { action: 'none', reason: 'already-ran' };
  if (env.isBootstrapPage || env.location.pathname.startsWith(RESERVED_PREFIX))
    return { action: 'none', reason: 'bootstrap-page' };
  // Without service workers the zero-trust path cannot run here; leave the page as it is.
  if (!env.serviceWorker) return { action: 'none', reason: 'unsupported' };
  const controller = env.serviceWorker.controller;
  if (controller && ourWorker(controller.scriptURL, env.location.origin))
    return { action: 'none', reason: 'controlled' };
  return { action: 'bootstrap', url: bootstrapUrlFor(env.location) };
}

const MARK = '__ztBootstrapInjected';

/** Runs in the page: decides and, when needed, replaces the document with the bootstrap page. */
export function run(win: Window & { [MARK]?: boolean }): InjectDecision {
  const decision = decide({
    location: win.location,
    serviceWorker: win.isSecureContext ? win.navigator.serviceWorker : undefined,
    isBootstrapPage: win.document.querySelector('meta[name="zt-bootstrap"]') !== null,
    alreadyRan: win[MARK] === true,
  });
  win[MARK] = true;
  if (decision.action === 'bootstrap') win.location.replace(decision.url);
  return decision;
}

if (typeof window !== 'undefined' && typeof document !== 'undefined') run(window);
