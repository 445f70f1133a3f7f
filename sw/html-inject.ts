import { decodeBody, isEncoded } from './content-decoding.ts';

/** The one element we add to the app's HTML. */
export const SHIM_TAG = '<script src="/__zt/shim.js"></script>';

/** CSP3 base64-value: the only nonce spelling a policy can name, and safe in a quoted attribute. */
const NONCE_VALUE = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * What the response's enforced Content-Security-Policy asks of our script element, so that the
 * shim loads under a policy that would block `/__zt/shim.js`: `nonce` to put on it, or `blocked`
 * with the reason when no single nonce can satisfy every policy. Each policy (several headers, or
 * one header listing several, comma-separated) is read for script elements: `script-src-elem`,
 * else `script-src`, else `default-src`. A policy without any of them restricts no script. One
 * that allows `'self'` (or `*`) without `'strict-dynamic'` lets our same-origin script load as it
 * is. Any other needs one of its nonces on the element; every such policy must accept the same one.
 * Report-only policies block nothing and are ignored. The policy itself is left as it is.
 */
export function cspScriptNonce(headers: Headers): { nonce?: string; blocked?: string } {
  const header = headers.get('content-security-policy');
  if (!header) return {};
  let candidates: string[] | undefined;
  for (const policy of header.split(',')) {
    const directives = new Map<string, string[]>();
    for (const d of policy.split(';')) {
      const [name, ...values] = d.trim().split(/[\t\n\f\r ]+/);
      const key = name?.toLowerCase();
      // The first occurrence of a directive wins (CSP3 §2.2.1).
      if (key && !directives.has(key)) directives.set(key, values);
    }
    const sources =
      directives.get('script-src-elem') ??
      directives.get('script-src') ??
      directives.get('default-src');
    if (!sources) continue;
    const lower = sources.map((v) => v.toLowerCase());
    if (!lower.includes("'strict-dynamic'") && (lower.includes("'self'") || lower.includes('*')))
      continue;
    const nonces = sources
      .filter((v) => v.toLowerCase().startsWith("'nonce-") && v.endsWith("'"))
      .map((v) => v.slice(7, -1))
      .filter((v) => NONCE_VALUE.test(v));
    candidates = candidates ? candidates.filter((n) => nonces.includes(n)) : nonces;
    if (candidates.length === 0) {
      return {
        blocked:
          nonces.length === 0
            ? `policy "${policy.trim()}" allows no script of ours (no 'self', no nonce)`
            : 'the policies name different nonces: no single nonce satisfies them all',
      };
    }
  }
  return candidates ? { nonce: candidates[0]! } : {};
}

/**
 * The shim's script element for a response: with the nonce its Content-Security-Policy needs (see
 * `cspScriptNonce`), else plain (and a warning when the policy will block it anyway).
 */
export function shimTagFor(headers: Headers): string {
  const { nonce, blocked } = cspScriptNonce(headers);
  if (blocked)
    console.warn(`[zt] the page's Content-Security-Policy will block the shim: ${blocked}`);
  return nonce ? `<script src="/__zt/shim.js" nonce="${nonce}"></script>` : SHIM_TAG;
}

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
 * Without an explicit `tag`, the element carries the nonce the response's Content-Security-Policy
 * needs (`shimTagFor`); the policy header itself passes unchanged.
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
    const r = injectParts(res.status, res.headers, res.body, headersOrTag as string | undefined);
    if (!r.injected) return res;
    return new Response(r.body, {
      status: res.status,
      statusText: res.statusText,
      headers: r.headers,
    });
  }
  return injectParts(statusOrResponse, headersOrTag as Headers, maybeBody ?? null, maybeTag);
}

function injectParts(
  status: number,
  headers: Headers,
  body: ReadableStream<Uint8Array> | null,
  tag: string | undefined,
): { headers: Headers; body: ReadableStream<Uint8Array> | null; injected: boolean } {
  if (!body || !isHtml(headers) || status === 206 || status < 200) {
    return { headers, body, injected: false };
  }
  const decoded = decodeBody(headers, body);
  if (!decoded.decoded && isEncoded(headers)) {
    return { headers, body, injected: false };
  }
  const out = new Headers(decoded.headers);
  out.delete('content-length'); // the tag makes the body longer
  return {
    headers: out,
    body: decoded.body!.pipeThrough(createHeadInjector(tag ?? shimTagFor(headers))),
    injected: true,
  };
}
