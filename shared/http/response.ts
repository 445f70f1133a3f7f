/** A parsed response, shaped like a Fetch `Response` (which cannot carry every status or Set-Cookie). */
export interface HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly httpVersion: '1.0' | '1.1';
  /** Every field; repeated ones are joined by Headers, except Set-Cookie (`getSetCookie()`). */
  readonly headers: Headers;
  /** Fields exactly as received, in order, names as sent. */
  readonly rawHeaders: readonly (readonly [string, string])[];
  /** Each Set-Cookie field value separately (they cannot be joined with commas). */
  readonly setCookies: readonly string[];
  /** Pull-based: bytes are read from the connection only as the consumer reads. Null when bodiless. */
  readonly body: ReadableStream<Uint8Array> | null;
  /** Trailer fields of a chunked body, once it is read to the end (empty otherwise; never rejects). */
  readonly trailers: Promise<Headers>;
  /**
   * Present when the stream below can do it (`ByteDuplex.capBacklog`): until this body ends, its
   * connection closes once more than `bytes` of it wait unread below; the body then errors with
   * `ERR_HTTP_CONNECTION_CLOSED` after the bytes that had arrived.
   */
  readonly capBacklog?: (bytes: number) => void;
}

/** Builds a Headers object from raw fields (the parser has validated names and values). */
export function toHeaders(fields: readonly (readonly [string, string])[]): Headers {
  const h = new Headers();
  for (const [n, v] of fields) h.append(n, v);
  return h;
}
