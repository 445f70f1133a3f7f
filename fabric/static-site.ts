import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import sirv from 'sirv';
import { OIDC_CALLBACK_PATH } from './controller/oidc.ts';

export interface StaticSiteOptions {
  /** Folder to serve (the Vite build). */
  root: string;
  host: string;
  port: number;
  /** Generated JSON files, by path (e.g. `/__zt/config.json`), computed on each request. */
  generated?: Record<string, () => unknown>;
  /** Requests wait for this (the site listens before the rest of the fabric is up). */
  ready?: Promise<unknown>;
}

/**
 * The end of the controller's OIDC redirect chain. The bootstrap page fetches `/oidc/authorize`
 * with `redirect: 'follow'`; after the controller's cross-origin redirects the request arrives here
 * with `Origin: null`, and the page reads the code from `response.url`. So the answer must allow
 * any origin, be tiny, never be cached and never echo the query (it holds the code). Firefox
 * preflights this last hop, so OPTIONS is answered too. deploy/nginx/zt.conf answers the same.
 */
export function answerOidcCallback(req: IncomingMessage, res: ServerResponse): void {
  const common = { 'access-control-allow-origin': '*', 'cache-control': 'no-store' };
  if (req.method === 'OPTIONS') {
    res.writeHead(204, {
      ...common,
      'access-control-allow-methods': 'GET',
      'access-control-allow-headers': '*',
    });
    res.end();
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...common, allow: 'GET, HEAD, OPTIONS' });
    res.end();
    return;
  }
  res.writeHead(200, { ...common, 'content-type': 'application/json', 'content-length': 2 });
  res.end(req.method === 'HEAD' ? undefined : '{}');
}

/**
 * Serves the browser build. Every path that is not a file gets the bootstrap page, as the production
 * reverse proxy does: the app itself is dark, so any deep link first lands on the bootstrap.
 */
export function serveStaticSite({
  root,
  host,
  port,
  generated = {},
  ready,
}: StaticSiteOptions): Promise<Server> {
  const files = sirv(root, {
    single: true,
    dev: false,
    etag: true,
    setHeaders(res, pathname) {
      // The service worker script must always be revalidated so updates are found at once.
      if (pathname === '/sw.js' || pathname === '/index.html' || pathname.endsWith('.json')) {
        res.setHeader('Cache-Control', 'no-cache');
      }
    },
  });
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://site').pathname;
    // Needs nothing from the fabric, so it does not wait for `ready`.
    if (path === OIDC_CALLBACK_PATH) return answerOidcCallback(req, res);
    if (ready) await ready.catch(() => {});
    const make = Object.hasOwn(generated, path) ? generated[path] : undefined;
    if (make && (req.method === 'GET' || req.method === 'HEAD')) {
      const body = JSON.stringify(make());
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-cache',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    files(req, res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
