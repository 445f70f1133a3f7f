/**
 * Our sign-in page for HTTP authentication (`http-auth.ts`), served by the worker itself at
 * `/__zt/http-auth`: it names the realm and the host that asks, and hands the name and password
 * to the worker.
 *
 * How the credentials reach the worker: a call of the worker's `httpAuthSignIn` (shared/page-worker/,
 * over a MessagePort), made by the page's script (bootstrap/http-auth.ts, built into this worker and
 * inlined with the page's nonce); the page then goes back to the URL that was challenged. Not a form
 * POST: a form submission is a navigation, and a navigation reaches the network whenever the worker
 * does not answer it (a worker being replaced, a hard reload), so the credentials could end up at
 * the static host. A message goes to the worker or nowhere; the page's policy (`form-action 'none'`,
 * `connect-src 'none'`, `default-src 'none'`) keeps any other way shut, and the page loads nothing
 * from anywhere.
 */
import { RESERVED_PREFIX, SW_HEADER } from '../shared/version.ts';

export const SIGN_IN_PATH = `${RESERVED_PREFIX}http-auth`;

/** The page's script, bootstrap/http-auth.ts as the build made it (vite.config.ts). */
declare const __ZT_HTTP_AUTH_SCRIPT__: string | undefined;
const builtScript = typeof __ZT_HTTP_AUTH_SCRIPT__ !== 'undefined' ? __ZT_HTTP_AUTH_SCRIPT__ : '';

/** Where a challenged navigation is sent: our page, with what it shows (never any credential). */
export function signInLocation(
  publicOrigin: string,
  challenge: { url: URL; realm: string; failed: boolean },
): string {
  const q = new URLSearchParams({ url: challenge.url.href, realm: challenge.realm });
  if (challenge.failed) q.set('failed', '1');
  return `${publicOrigin}${SIGN_IN_PATH}?${q}`;
}

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

function randomNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}

/**
 * The page for `/__zt/http-auth?url=…&realm=…[&failed=1]`. `url` must be an http(s) URL; anything
 * else gets a 400 (the page is never shown for a URL it could not return to). The URL and realm
 * reach the script as the form's `data-target` and `data-realm`.
 */
export function signInPage(
  query: URLSearchParams,
  nonce = randomNonce(),
  script = builtScript,
): Response {
  let target: URL | undefined;
  try {
    target = new URL(query.get('url') ?? '');
  } catch {}
  const headers = {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    // A challenged frame of the app shows it too; no other site may frame it.
    'x-frame-options': 'SAMEORIGIN',
    'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src data:; form-action 'none'; frame-ancestors 'self'; base-uri 'none'`,
    [SW_HEADER]: 'http-auth',
  };
  if (!target || !/^https?:$/.test(target.protocol))
    return new Response('no URL to sign in for', { status: 400, headers });
  const realm = query.get('realm') ?? '';
  const failed = query.get('failed') === '1';
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<link rel="icon" href="data:,">
<title>Sign in to ${escapeHtml(target.host)}</title>
<style nonce="${nonce}">
body{font:16px/1.4 system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.3rem}label{display:block;margin:.8rem 0 .2rem}input{width:100%;box-sizing:border-box;padding:.4rem;font:inherit}
button{margin-top:1rem;padding:.5rem 1.2rem;font:inherit}#error{color:#a00}.small{color:#555;font-size:.85rem}
</style></head><body>
<h1>Sign in</h1>
<p id="asks"><strong id="host">${escapeHtml(target.host)}</strong> asks for a user name and password for <strong id="realm">${escapeHtml(realm)}</strong>.</p>
<p id="error" role="alert">${failed ? 'That user name and password were not accepted. Try again.' : ''}</p>
<form id="form" autocomplete="on" data-target="${escapeHtml(target.href)}" data-realm="${escapeHtml(realm)}">
<label for="user">User name</label><input id="user" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password">
<button id="submit" type="submit">Sign in</button>
</form>
<p class="small">Kept only in this browser's memory for this site and realm, sent only to the app through the secure tunnel, and forgotten when you sign out.</p>
<script nonce="${nonce}">${script.replace(/<\/(script)/gi, '<\\/$1')}</script>
</body></html>`;
  return new Response(html, { status: 200, headers });
}
