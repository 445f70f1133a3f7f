import { createServer, type Server } from 'node:http';
import sirv from 'sirv';

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
    if (ready) await ready.catch(() => {});
    const path = new URL(req.url ?? '/', 'http://site').pathname;
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
