import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { shouldGzip } from './http.ts';

/**
 * Serves a file as Mattermost does (web.WriteFileResponse: http.ServeContent behind gzhttp): 206
 * with Content-Range for one range, 416 with `bytes *\/size` when unsatisfiable, If-Range by date
 * only (there is no ETag), 304 for an If-Modified-Since that is not older, and 200 for no or several
 * ranges. `X-Uncompressed-Content-Length` always carries the size. A whole file is gzipped, chunked
 * and without Accept-Ranges or Content-Length, when the client accepts gzip (see
 * {@link shouldGzip}); ranged answers never are. The body is streamed from disk with backpressure.
 */
export function serveRange(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  size: number,
  mtime: Date,
): void {
  const lastModified = new Date(Math.floor(mtime.getTime() / 1000) * 1000);
  if (size > 0) res.setHeader('X-Uncompressed-Content-Length', size);
  const since = Date.parse(String(req.headers['if-modified-since'] ?? ''));
  if (!Number.isNaN(since) && lastModified.getTime() <= since) {
    res.statusCode = 304;
    res.removeHeader('Content-Type');
    res.setHeader('Last-Modified', lastModified.toUTCString());
    res.end();
    return;
  }
  let range = req.headers.range;
  const ifRange = req.headers['if-range'];
  if (range && ifRange) {
    const when = Date.parse(String(ifRange));
    if (Number.isNaN(when) || when !== lastModified.getTime()) range = undefined;
  }
  let start = 0;
  let end = size - 1;
  let status = 200;
  if (range) {
    const parsed = parseRange(range, size);
    if (parsed === 'unsatisfiable') {
      // Go's serveError drops the caching headers of the file.
      res.removeHeader('Cache-Control');
      res.statusCode = 416;
      res.setHeader('Content-Range', `bytes */${size}`);
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end('invalid range: failed to overlap\n');
      return;
    }
    if (parsed) {
      ({ start, end } = parsed);
      status = 206;
      res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
    }
  }
  res.setHeader('Last-Modified', lastModified.toUTCString());
  res.statusCode = status;
  const gzip = status === 200 && shouldGzip(req, res, size);
  if (gzip) {
    res.setHeader('Content-Encoding', 'gzip');
  } else {
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Content-Length', size === 0 ? 0 : end - start + 1);
  }
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  const stream = createReadStream(path, { start, end, highWaterMark: 256 * 1024 });
  (gzip ? pipeline(stream, createGzip(), res) : pipeline(stream, res)).catch(() => {
    // The client went away mid-download (e.g. a paused download to resume later).
    stream.destroy();
  });
}

/**
 * The one `bytes=` range of a Range header. Malformed ranges are unsatisfiable (416), as Go's
 * ServeContent answers them; several ranges (Go would send multipart/byteranges) are ignored and
 * the whole file is sent, which RFC 9110 allows.
 */
export function parseRange(
  header: string,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  const value = header.trim();
  if (value.startsWith('bytes=') && value.includes(',')) return undefined;
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(value);
  if (!m) return 'unsatisfiable';
  const [, a, b] = m;
  if (a === '' && b === '') return 'unsatisfiable';
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  if (start >= size) return 'unsatisfiable';
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (end < start) return 'unsatisfiable';
  return { start, end };
}
