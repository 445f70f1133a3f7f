import { CRLF, concatBytes, latin1Encode } from './_internal/bytes.ts';
import { HttpAbortError, HttpBodyLengthError } from './errors.ts';
import type { BodyFraming } from './request-head.ts';

/** A request body: bytes in hand (replayable), a stream (sent as it is produced), or none. */
export type RequestBody = Uint8Array | ReadableStream<Uint8Array> | null | undefined;

/** Bodies up to this size are written together with the head, in one write. */
const COALESCE_LIMIT = 64 * 1024;

const LAST_CHUNK = latin1Encode('0\r\n\r\n');

/** Picks the framing for a body: Content-Length when its size is known, else chunked. */
export function bodyFraming(body: RequestBody, contentLength?: number): BodyFraming {
  if (body == null) return { kind: 'none' };
  if (body instanceof Uint8Array) return { kind: 'length', length: body.length };
  return contentLength === undefined
    ? { kind: 'chunked' }
    : { kind: 'length', length: contentLength };
}

/** Thrown by `writeRequest` when the body stream itself failed (not the connection). */
export class BodySourceError extends HttpAbortError {
  constructor(cause: unknown) {
    super('the request body stream failed', { cause });
  }
}

/**
 * Writes head and body. Each write is awaited, so a slow connection pushes back on the body stream
 * (one chunk in flight). `onProgress` gets the body bytes accepted so far after each write.
 * A stream body that does not match a declared length rejects with `HttpBodyLengthError`; a failing
 * stream rejects with `BodySourceError`; a failing connection rejects with its own error.
 */
export async function writeRequest(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  head: Uint8Array,
  body: RequestBody,
  framing: BodyFraming,
  onProgress?: (bytesSent: number) => void,
): Promise<void> {
  if (body == null) {
    await writer.write(head);
    return;
  }
  if (body instanceof Uint8Array) {
    if (body.length <= COALESCE_LIMIT) await writer.write(concatBytes([head, body]));
    else {
      await writer.write(head);
      await writer.write(body);
    }
    onProgress?.(body.length);
    return;
  }
  await writer.write(head);
  const reader = body.getReader();
  let sent = 0;
  try {
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        throw new BodySourceError(e);
      }
      if (r.done) break;
      const chunk = r.value;
      if (!(chunk instanceof Uint8Array)) {
        throw new BodySourceError(new TypeError('request body chunks must be Uint8Array'));
      }
      if (chunk.length === 0) continue;
      if (framing.kind === 'length') {
        if (sent + chunk.length > framing.length) {
          throw new HttpBodyLengthError(
            `request body longer than its Content-Length (${framing.length})`,
          );
        }
        await writer.write(chunk);
      } else {
        // One write per chunk: size line, data and CRLF travel together (RFC 9112 §7.1).
        await writer.write(
          concatBytes([latin1Encode(`${chunk.length.toString(16)}\r\n`), chunk, CRLF]),
        );
      }
      sent += chunk.length;
      onProgress?.(sent);
    }
  } catch (e) {
    reader.cancel(e).catch(() => {});
    throw e;
  }
  if (framing.kind === 'length' && sent !== framing.length) {
    throw new HttpBodyLengthError(
      `request body ended after ${sent} of ${framing.length} bytes (Content-Length)`,
    );
  }
  if (framing.kind === 'chunked') await writer.write(LAST_CHUNK);
}
