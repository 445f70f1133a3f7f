/**
 * Content-Encoding the service worker can undo. A Response built in a service worker is handed to
 * the page as is: the browser does not decode its Content-Encoding (it only does that for bytes it
 * fetched itself), so we decode, and advertise only what DecompressionStream supports.
 */
const DECODERS: Readonly<Record<string, CompressionFormat>> = {
  gzip: 'gzip',
  'x-gzip': 'gzip',
  deflate: 'deflate',
};

/** The Accept-Encoding we send upstream: what `decodeBody` can undo. */
export const ACCEPT_ENCODING = 'gzip, deflate';

/** The codings listed in Content-Encoding, outermost last (RFC 9110 §8.4), lower case. */
function codings(headers: Headers): string[] {
  return (headers.get('content-encoding') ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c && c !== 'identity');
}

/** True when the response names a content coding other than identity. */
export function isEncoded(headers: Headers): boolean {
  return codings(headers).length > 0;
}

/** True when every coding of the response can be undone here. */
export function canDecode(headers: Headers): boolean {
  return codings(headers).every((c) => c in DECODERS);
}

/**
 * Undoes the response's Content-Encoding as a stream, and drops Content-Encoding and
 * Content-Length (which described the encoded bytes). Returns the input untouched when there is
 * nothing to undo, or when a coding is unknown (then the caller must pass it through as is).
 */
export function decodeBody(
  headers: Headers,
  body: ReadableStream<Uint8Array> | null,
): { headers: Headers; body: ReadableStream<Uint8Array> | null; decoded: boolean } {
  const list = codings(headers);
  if (list.length === 0 || !canDecode(headers)) return { headers, body, decoded: false };
  const out = new Headers(headers);
  out.delete('content-encoding');
  out.delete('content-length');
  if (!body) return { headers: out, body, decoded: true };
  let stream = body;
  for (const c of list.reverse()) {
    stream = stream.pipeThrough(
      new DecompressionStream(DECODERS[c]!) as unknown as ReadableWritablePair<
        Uint8Array,
        Uint8Array
      >,
    );
  }
  return { headers: out, body: stream, decoded: true };
}
