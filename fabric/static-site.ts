import { createServer, type Server } from 'node:http';
import sirv from 'sirv';

export interface StaticSiteOptions {
  /** Folder to serve (the Vite build). */
  root: string;
  host: string;
  port: number;
}

/**
 * Serves the browser build. Every path that is not a file gets the bootstrap page, as the production
 * reverse proxy does: the app itself is dark, so any deep link first lands on the bootstrap.
 */
export function serveStaticSite({ root, host, port }: StaticSiteOptions): Promise<Server> {
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
  const server = createServer((req, res) => files(req, res));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
