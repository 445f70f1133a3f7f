/**
 * tough-cookie, loaded when the app's cookie jar is first opened instead of at every start of the
 * worker. With its public suffix list it is the worker's largest and costliest library (about
 * 300 KB; evaluating it takes about 27 ms in a Firefox worker, 6 ms in Chromium): deferred, that
 * runs while the router connection of a resumed worker opens. In the worker's build it is a worker
 * part (`worker-parts.ts`): the dynamic import below becomes an `importScripts` of a script the
 * browser kept with the worker.
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
