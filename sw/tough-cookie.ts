/**
 * tough-cookie, evaluated when the app's cookie jar is first opened instead of at every start of
 * the worker. Its public suffix list makes it the worker's costliest library to evaluate (about
 * 27 ms in a Firefox worker, 6 ms in Chromium): deferred, that runs while the router connection
 * of a resumed worker opens. The bundle still carries it (a service worker cannot import code
 * later); only its evaluation waits.
 */
import type * as ToughCookie from 'tough-cookie';

let loaded: typeof ToughCookie | undefined;
let loading: Promise<typeof ToughCookie> | undefined;

export function loadToughCookie(): Promise<typeof ToughCookie> {
  loading ??= import('tough-cookie').then((m) => {
    loaded = m;
    return m;
  });
  return loading;
}

/**
 * The library, once `loadToughCookie()` resolved: what holds a `CookieJar` (opening one loads it)
 * may use it synchronously.
 */
export function toughCookie(): typeof ToughCookie {
  if (!loaded) throw new Error('tough-cookie is used before the cookie jar was opened');
  return loaded;
}
