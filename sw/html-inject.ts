import { decodeBody } from './content-decoding.ts';

/** The one element we add to the app's HTML. */
export const SHIM_TAG = '<script src="/__zt/shim.js"></script>';

/** Give up (pass the document through untouched) if a single comment or tag before <head> is bigger. */
const MAX_HELD_BYTES = 256 * 1024;

enum S {
  Start,
  Bom,
  Text,
  TagOpen,
  MarkupDecl,
  CommentStart,
  Comment,
  Bogus,
  TagName,
  Attrs,
  Done,
}

const LT = 0x3c;
const GT = 0x3e;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;
}

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/**
 * A TransformStream that puts `tag` as the first element of `<head>` in streamed HTML.
 * It tokenises only the document's prologue (BOM, whitespace, comments, doctype, `<html ...>`):
 * after `<head ...>` it inserts the tag; if anything else comes first (a `<meta>`, `<body>`, text),
 * it inserts the tag before it, where the HTML parser opens the implied head. From then on chunks
 * pass through untouched. Only the current unfinished token is held back, never the document.
 * Works on ASCII-compatible encodings; a UTF-16 document is passed through unchanged.
 */
export function createHeadInjector(
  tag: string = SHIM_TAG,
): TransformStream<Uint8Array, Uint8Array> {
  const tagBytes = new TextEncoder().encode(tag);
  let state = S.Start;
  let held: Uint8Array[] = [];
  let heldLen = 0;
  let name = '';
  let dashes = 0;
  let bom = 0;
  let quote = 0;
  let lastNonSpace = 0;

  const flushHeld = (c: TransformStreamDefaultController<Uint8Array>) => {
    for (const h of held) c.enqueue(h);
    held = [];
    heldLen = 0;
  };

  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, c) {
      if (state === S.Done) {
        c.enqueue(chunk);
        return;
      }
      let start = 0; // chunk bytes before `start` are emitted (or held)
      /** Emits held bytes and chunk[start, end). */
      const emitTo = (end: number) => {
        flushHeld(c);
        if (end > start) c.enqueue(chunk.subarray(start, end));
        start = end;
      };
      /** Inserts the tag before the current token (the held bytes), then passes the rest on. */
      const injectBeforeToken = () => {
        c.enqueue(tagBytes);
        emitTo(chunk.length);
        state = S.Done;
      };
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i]!;
        switch (state) {
          case S.Start:
            if (b === 0xef) {
              state = S.Bom;
              bom = 1;
              break;
            }
            if (b === 0xfe || b === 0xff) {
              // UTF-16: our ASCII tag would corrupt it.
              emitTo(chunk.length);
              state = S.Done;
              return;
            }
            state = S.Text;
            i--;
            break;
          case S.Bom: {
            const want = bom === 1 ? 0xbb : 0xbf;
            if (b !== want) {
              // Not a BOM: non-ASCII text, which opens the body (and the implied head before it).
              c.enqueue(tagBytes);
              emitTo(chunk.length);
              state = S.Done;
              return;
            }
            if (++bom === 3) {
              emitTo(i + 1);
              state = S.Text;
            }
            break;
          }
          case S.Text:
            if (isSpace(b)) break;
            if (b === LT) {
              emitTo(i);
              state = S.TagOpen;
              break;
            }
            emitTo(i);
            injectBeforeToken();
            return;
          case S.TagOpen:
            if (b === 0x21) state = S.MarkupDecl;
            else if (b === 0x3f) state = S.Bogus;
            else if (isAlpha(b)) {
              name = String.fromCharCode(b | 0x20);
              state = S.TagName;
            } else {
              injectBeforeToken(); // an end tag or a stray '<': content, so the head is implied
              return;
            }
            break;
          case S.MarkupDecl:
            if (b === 0x2d) state = S.CommentStart;
            else state = b === GT ? S.Text : S.Bogus; // DOCTYPE and other declarations end at '>'
            if (state === S.Text) emitTo(i + 1);
            break;
          case S.CommentStart:
            if (b === 0x2d) {
              state = S.Comment;
              dashes = 0;
              // "<!-->" and "<!--->" are (abrupt) complete comments.
              if (i + 1 < chunk.length && chunk[i + 1] === GT) {
                emitTo(i + 2);
                i++;
                state = S.Text;
              }
            } else state = b === GT ? S.Text : S.Bogus;
            if (state === S.Text) emitTo(i + 1);
            break;
          case S.Comment:
            if (b === 0x2d) dashes++;
            else if (b === GT && dashes >= 2) {
              emitTo(i + 1);
              state = S.Text;
            } else if (b === GT && dashes === 1 && heldLen + i - start === 5) {
              emitTo(i + 1); // "<!--->"
              state = S.Text;
            } else dashes = 0;
            break;
          case S.Bogus:
            if (b === GT) {
              emitTo(i + 1);
              state = S.Text;
            }
            break;
          case S.TagName:
            if (isAlpha(b) || (b >= 0x30 && b <= 0x39) || b === 0x2d) {
              name += String.fromCharCode(b >= 0x41 && b <= 0x5a ? b | 0x20 : b);
              if (name.length > 8) {
                injectBeforeToken();
                return;
              }
              break;
            }
            if (name !== 'html' && name !== 'head') {
              injectBeforeToken();
              return;
            }
            state = S.Attrs;
            quote = 0;
            lastNonSpace = 0;
            i--;
            break;
          case S.Attrs:
            if (quote) {
              if (b === quote) quote = 0;
              break;
            }
            if ((b === 0x22 || b === 0x27) && lastNonSpace === 0x3d) {
              quote = b;
              lastNonSpace = b;
              break;
            }
            if (b === GT) {
              emitTo(i + 1);
              if (name === 'head') {
                c.enqueue(tagBytes);
                emitTo(chunk.length);
                state = S.Done;
                return;
              }
              state = S.Text;
              break;
            }
            if (!isSpace(b)) lastNonSpace = b;
            break;
        }
      }
      if (start < chunk.length) {
        held.push(chunk.subarray(start));
        heldLen += chunk.length - start;
      }
      if (heldLen > MAX_HELD_BYTES) {
        flushHeld(c); // an enormous prologue token: give up rather than buffer
        state = S.Done;
      }
    },
    flush(c) {
      if (state === S.Done) return;
      // The document ended before any content: the head is still implied, at the end.
      const inComment = state === S.Comment || state === S.CommentStart || state === S.Bogus;
      flushHeld(c);
      if (!inComment) c.enqueue(tagBytes);
    },
  });
}

/** True for an HTML document (MIME essence text/html, RFC 9110 §8.3). */
export function isHtml(headers: Headers): boolean {
  const type = headers.get('content-type');
  return type !== null && type.split(';')[0]!.trim().toLowerCase() === 'text/html';
}

/**
 * Adds the shim to an HTML response body: decodes gzip/deflate first (dropping Content-Encoding
 * and Content-Length), then injects. Anything that is not a whole HTML document (another type, no
 * body, a 206 part, an encoding we cannot undo) is returned unchanged, with `injected: false`.
 */
export function injectShim(response: Response, tag?: string): Response;
export function injectShim(
  status: number,
  headers: Headers,
  body: ReadableStream<Uint8Array> | null,
  tag?: string,
): { headers: Headers; body: ReadableStream<Uint8Array> | null; injected: boolean };
export function injectShim(
  statusOrResponse: number | Response,
  headersOrTag?: Headers | string,
  maybeBody?: ReadableStream<Uint8Array> | null,
  maybeTag?: string,
): Response | { headers: Headers; body: ReadableStream<Uint8Array> | null; injected: boolean } {
  if (statusOrResponse instanceof Response) {
    const res = statusOrResponse;
    const r = injectParts(res.status, res.headers, res.body, (headersOrTag as string) ?? SHIM_TAG);
    if (!r.injected) return res;
    return new Response(r.body, {
      status: res.status,
      statusText: res.statusText,
      headers: r.headers,
    });
  }
  return injectParts(
    statusOrResponse,
    headersOrTag as Headers,
    maybeBody ?? null,
    maybeTag ?? SHIM_TAG,
  );
}

function injectParts(
  status: number,
  headers: Headers,
  body: ReadableStream<Uint8Array> | null,
  tag: string,
): { headers: Headers; body: ReadableStream<Uint8Array> | null; injected: boolean } {
  if (!body || !isHtml(headers) || status === 206 || status < 200) {
    return { headers, body, injected: false };
  }
  const decoded = decodeBody(headers, body);
  if (
    !decoded.decoded &&
    headers.has('content-encoding') &&
    (headers.get('content-encoding') ?? '').trim().toLowerCase() !== 'identity'
  ) {
    return { headers, body, injected: false };
  }
  const out = new Headers(decoded.headers);
  out.delete('content-length'); // the tag makes the body longer
  return { headers: out, body: decoded.body!.pipeThrough(createHeadInjector(tag)), injected: true };
}
