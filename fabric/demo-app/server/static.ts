import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import sirv from 'sirv';

/**
 * Mattermost's CSP header for its pages (web/handlers.go: `frame-ancestors 'self' %s; script-src
 * 'self'` with FrameAncestors empty, hence the space before the semicolon).
 */
export const APP_CSP = "frame-ancestors 'self' ; script-src 'self'";
/** The meta CSP the app's HTML carries (Mattermost's root.html has one as well). */
export const META_CSP = "script-src 'self'";
/** Mattermost's cache header for `/static/*` (web/static.go). */
export const STATIC_CACHE_CONTROL = 'max-age=31556926, public';
/** Mattermost's root.html cache header. */
export const HTML_CACHE_CONTROL = 'no-cache, max-age=31556926, public';

const FALLBACK_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${META_CSP}">
<title>Demo Chat</title></head>
<body><p>The demo chat UI is not built yet: run <code>npm run build:demo</code>.</p></body></html>
`;

/**
 * The app's non-API side: `/static/*` from the built UI with immutable caching, and the app's HTML
 * (with its own CSP header) for every other GET, so deep links work as in Mattermost.
 */
export class StaticSite {
  private readonly files: ReturnType<typeof sirv>;
  private readonly html: string;

  constructor(distDir: string) {
    // sirv scans the folder up front; without a build there are no static files at all.
    const noFiles: ReturnType<typeof sirv> = (_req, _res, next) => next?.();
    this.files = !existsSync(distDir)
      ? noFiles
      : sirv(distDir, {
          dev: false,
          etag: true,
          dotfiles: false,
          setHeaders(res) {
            res.setHeader('Cache-Control', STATIC_CACHE_CONTROL);
          },
        });
    const index = join(distDir, 'index.html');
    this.html = existsSync(index) ? readFileSync(index, 'utf8') : FALLBACK_HTML;
  }

  /** Whether the built UI was found (otherwise a placeholder page is served). */
  get built(): boolean {
    return this.html !== FALLBACK_HTML;
  }

  handle(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // Mattermost's router has no page for other methods.
      res.statusCode = 404;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end('404 page not found\n');
      return;
    }
    if (url.pathname.startsWith('/static/')) {
      const original = req.url;
      req.url = url.pathname.slice('/static'.length) + url.search;
      this.files(req, res, () => {
        req.url = original;
        res.statusCode = 404;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end('404 page not found\n');
      });
      return;
    }
    res.statusCode = 200;
    res.setHeader('Content-Type', 'text/html');
    res.setHeader('Content-Security-Policy', APP_CSP);
    res.setHeader('X-Frame-Options', 'SAMEORIGIN');
    res.setHeader('Cache-Control', HTML_CACHE_CONTROL);
    res.setHeader('Content-Length', Buffer.byteLength(this.html));
    res.end(req.method === 'HEAD' ? undefined : this.html);
  }
}
