import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';

/**
 * Serves a file with HTTP range support as Go's http.ServeContent does for one range: 206 with
 * Content-Range, 416 with `bytes *\/size` when unsatisfiable, If-Range by date, and 200 for no or
 * several ranges. The body is streamed from disk with backpressure.
 */
export function serveRange(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  size: number,
  mtime: Date,
): void {
  const lastModified = new Date(Math.floor(mtime.getTime() / 1000) * 1000);
  res.setHeader('Last-Modified', lastModified.toUTCString());
  res.setHeader('Accept-Ranges', 'bytes');
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
  res.statusCode = status;
  res.setHeader('Content-Length', size === 0 ? 0 : end - start + 1);
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  const stream = createReadStream(path, { start, end, highWaterMark: 256 * 1024 });
  pipeline(stream, res).catch(() => {
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
