const isLoopback = (url: URL) => ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);

/**
 * oauth4webapi's request options for `url`: plain http is allowed only for an IdP on this machine
 * (development). The caller passes the library's `allowInsecureRequests` symbol (pages import the
 * library, the worker loads it lazily); passing the symbol, not the whole module, keeps the
 * library's unused parts out of the bundles.
 */
export const httpOptions = (url: URL, allowInsecureRequests: symbol) =>
  url.protocol === 'http:' && isLoopback(url) ? { [allowInsecureRequests]: true } : {};
