import type { FailureCode } from '../../shared/status/failures.ts';
import type { FailureRecord } from '../../shared/status/protocol.ts';
import { SW_HEADER } from '../../shared/version.ts';

/** How many of the last failures the status page shows. */
const KEPT_FAILURES = 10;
const failures: FailureRecord[] = [];

/** The last requests that could not be carried, newest first (status page). */
export const recentFailures = (): FailureRecord[] => failures.map((f) => ({ ...f }));

const TITLES: Record<FailureCode, string> = {
  'no-identity': 'You are not signed in',
  'identity-expired': 'Your secure session has expired',
  'service-unavailable': 'The application is not available to you',
  'controller-unreachable': 'The secure network cannot be reached',
  'no-router': 'No secure network entry point is online',
  'router-unreachable': 'The secure network cannot be reached',
  'dial-failed': 'The application did not answer over the secure network',
  'upstream-error': 'The connection to the application broke',
  'method-not-supported': 'This request cannot be carried',
  'routes-unknown': 'The secure network cannot be asked where this request goes',
};

const STATUS: Record<FailureCode, number> = {
  'no-identity': 401,
  'identity-expired': 401,
  'service-unavailable': 403,
  'controller-unreachable': 503,
  'no-router': 503,
  'router-unreachable': 503,
  'dial-failed': 502,
  'upstream-error': 502,
  'method-not-supported': 501,
  'routes-unknown': 503,
};

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The response for a request that could not be tunnelled: a readable page for navigations, a short
 * text body with the same facts for everything else. Marked so that tests and the shim can tell it
 * from the app's own errors.
 */
export function failClosedResponse(
  kind: FailureCode,
  detail: string,
  navigation: boolean,
): Response {
  failures.unshift({ at: Date.now(), kind, message: detail });
  if (failures.length > KEPT_FAILURES) failures.length = KEPT_FAILURES;
  const headers = new Headers({
    'cache-control': 'no-store',
    [SW_HEADER]: 'error',
    'x-zt-error': kind,
  });
  if (!navigation) {
    headers.set('content-type', 'text/plain; charset=utf-8');
    return new Response(`${TITLES[kind]}: ${detail}\n`, { status: STATUS[kind], headers });
  }
  headers.set('content-type', 'text/html; charset=utf-8');
  // No script: the app's CSP does not apply to our page, but a retry is just a reload.
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(TITLES[kind])}</title><link rel="stylesheet" href="/__zt/error.css"></head>
<body><main class="card"><h1>${escapeHtml(TITLES[kind])}</h1><p>${escapeHtml(detail)}</p>
<p>Nothing was sent outside the secure network.</p><p><a href="">Try again</a> · <a href="/__zt/status">Connection status</a> · <a href="/__zt/index.html?logout=1">Sign out</a></p></main></body></html>`;
  return new Response(html, { status: STATUS[kind], headers });
}
