import { concatBytes, isFieldValue, isToken, latin1Decode } from './_internal/bytes.ts';
import { DEFAULT_MAX_HEAD_BYTES, DEFAULT_MAX_HEADERS, MAX_CHUNK_LINE_BYTES } from './constants.ts';
import { HttpConnectionClosedError, HttpParseError } from './errors.ts';

/** How a response body is delimited (RFC 9112 §6.3). */
export type ResponseFraming =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  | { kind: 'close' };

export interface ResponseHead {
  version: '1.0' | '1.1';
  status: number;
  statusText: string;
  /** Fields in arrival order, names as sent (repeated fields such as Set-Cookie stay separate). */
  headers: [string, string][];
  framing: ResponseFraming;
  /** The connection may carry another request after this response (HTTP/1.1, no `close`). */
  keepAlive: boolean;
}

export type ParseEvent =
  | { type: 'head'; head: ResponseHead }
  | { type: 'data'; data: Uint8Array }
  | { type: 'end'; trailers: [string, string][] };

export interface ResponseParserOptions {
  /** The request's method: a response to HEAD has no body whatever its fields say. */
  method: string;
  maxHeadBytes?: number;
  maxHeaders?: number;
}

enum State {
  Head,
  BodyLength,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  BodyClose,
  Done,
  Upgraded,
}

const CR = 13;
const LF = 10;

/**
 * Incremental HTTP/1.1 response parser: a state machine fed with chunks in any slicing.
 * `push()` returns the events the bytes completed; body data events are views into the input
 * (no copy). `end()` reports end of stream. A 1xx head is returned and parsing continues with the
 * next head, except 101, after which the parser stops and `takeUpgradeBytes()` returns what
 * followed the head. Every violation throws `HttpParseError` (the connection is then unusable).
 */
export class ResponseParser {
  readonly #method: string;
  readonly #maxHeadBytes: number;
  readonly #maxHeaders: number;
  #state = State.Head;
  /** Bytes of the current head or trailer section, and how far into CR LF CR LF we are. */
  #block: Uint8Array[] = [];
  #blockLen = 0;
  #matched = 0;
  /** Bytes of the current chunk-size line. */
  #line: Uint8Array[] = [];
  #lineLen = 0;
  #remaining = 0;
  #upgradeBytes: Uint8Array[] = [];
  #bytesReceived = 0;
  #finalHeadSeen = false;

  constructor(options: ResponseParserOptions) {
    this.#method = options.method.toUpperCase();
    this.#maxHeadBytes = options.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES;
    this.#maxHeaders = options.maxHeaders ?? DEFAULT_MAX_HEADERS;
  }

  /** Total bytes pushed so far (0 means the peer has not answered at all). */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** True once the final response, body included, is complete (or the connection upgraded). */
  get done(): boolean {
    return this.#state === State.Done || this.#state === State.Upgraded;
  }

  /** True once a non-1xx head has been parsed. */
  get headComplete(): boolean {
    return this.#finalHeadSeen;
  }

  /** After a 101 head: the bytes that followed it (they belong to the upgraded protocol). */
  takeUpgradeBytes(): Uint8Array {
    const out = concatBytes(this.#upgradeBytes.length ? this.#upgradeBytes : [new Uint8Array(0)]);
    this.#upgradeBytes = [];
    return out;
  }

  push(chunk: Uint8Array): ParseEvent[] {
    this.#bytesReceived += chunk.length;
    const events: ParseEvent[] = [];
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      switch (this.#state) {
        case State.Head:
        case State.Trailers: {
          const end = this.#scanBlock(chunk, i);
          if (end < 0) {
            i = n;
            break;
          }
          const block = concatBytes(this.#block);
          this.#block = [];
          this.#blockLen = 0;
          this.#matched = 0;
          i = end;
          if (this.#state === State.Head) this.#onHead(block, events);
          else {
            events.push({ type: 'end', trailers: this.#parseFields(block, 0, 'trailer') });
            this.#state = State.Done;
          }
          break;
        }
        case State.BodyLength:
        case State.ChunkData: {
          const take = Math.min(this.#remaining, n - i);
          events.push({ type: 'data', data: chunk.subarray(i, i + take) });
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) {
            if (this.#state === State.BodyLength) {
              events.push({ type: 'end', trailers: [] });
              this.#state = State.Done;
            } else {
              this.#state = State.ChunkDataEnd;
              this.#remaining = 2;
            }
          }
          break;
        }
        case State.ChunkDataEnd: {
          // The CR LF after chunk data; #remaining counts which of the two bytes we expect.
          const want = this.#remaining === 2 ? CR : LF;
          if (chunk[i] !== want)
            throw new HttpParseError('ERR_HTTP_PARSE', 'missing CRLF after chunk data');
          i++;
          if (--this.#remaining === 0) this.#state = State.ChunkSize;
          break;
        }
        case State.ChunkSize:
          i = this.#scanChunkLine(chunk, i);
          break;
        case State.BodyClose:
          events.push({ type: 'data', data: i === 0 ? chunk : chunk.subarray(i) });
          i = n;
          break;
        case State.Upgraded:
          this.#upgradeBytes.push(chunk.subarray(i));
          i = n;
          break;
        case State.Done:
          throw new HttpParseError(
            'ERR_HTTP_PARSE',
            'unexpected bytes after the end of the response',
          );
      }
    }
    return events;
  }

  /** The peer closed its side. Completes a close-delimited body; otherwise reports truncation. */
  end(): ParseEvent[] {
    switch (this.#state) {
      case State.Done:
      case State.Upgraded:
        return [];
      case State.BodyClose:
        this.#state = State.Done;
        return [{ type: 'end', trailers: [] }];
      case State.Head:
        if (this.#bytesReceived === 0) {
          throw new HttpConnectionClosedError('connection closed before any response byte', true);
        }
        throw new HttpConnectionClosedError(
          'connection closed in the middle of the response head',
          false,
        );
      default:
        throw new HttpConnectionClosedError(
          'connection closed before the response body was complete',
          false,
        );
    }
  }

  /** Finds the end of a head/trailer block (CR LF CR LF); returns the index after it, or -1. */
  #scanBlock(chunk: Uint8Array, start: number): number {
    let m = this.#matched;
    let i = start;
    const n = chunk.length;
    for (; i < n; i++) {
      const c = chunk[i];
      if (c === CR) {
        m = m === 2 ? 3 : 1;
      } else if (c === LF) {
        if (m !== 1 && m !== 3) {
          throw new HttpParseError('ERR_HTTP_PARSE', 'bare LF in the response head');
        }
        m++;
        if (m === 4) {
          i++;
          break;
        }
      } else {
        m = 0;
      }
    }
    const used = i - start;
    if (this.#blockLen + used > this.#maxHeadBytes) {
      throw new HttpParseError(
        'ERR_HTTP_HEAD_TOO_LARGE',
        `response ${this.#state === State.Head ? 'head' : 'trailers'} larger than ${this.#maxHeadBytes} bytes`,
      );
    }
    this.#block.push(chunk.subarray(start, i));
    this.#blockLen += used;
    this.#matched = m;
    return m === 4 ? i : -1;
  }

  #scanChunkLine(chunk: Uint8Array, start: number): number {
    let i = start;
    const n = chunk.length;
    while (i < n && chunk[i] !== LF) i++;
    const found = i < n;
    if (found) i++;
    if (this.#lineLen + (i - start) > MAX_CHUNK_LINE_BYTES) {
      throw new HttpParseError(
        'ERR_HTTP_PARSE',
        `chunk-size line longer than ${MAX_CHUNK_LINE_BYTES} bytes`,
      );
    }
    this.#line.push(chunk.subarray(start, i));
    this.#lineLen += i - start;
    if (!found) return i;
    const line = latin1Decode(concatBytes(this.#line));
    this.#line = [];
    this.#lineLen = 0;
    this.#onChunkLine(line);
    return i;
  }

  #onChunkLine(line: string): void {
    // RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF; chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] )
    const m = /^([0-9a-fA-F]{1,13})[\t ]*(;[^\r\n]*)?\r\n$/.exec(line);
    if (!m)
      throw new HttpParseError(
        'ERR_HTTP_PARSE',
        `invalid chunk-size line: ${JSON.stringify(line)}`,
      );
    if (m[2] !== undefined && !isFieldValue(m[2])) {
      throw new HttpParseError('ERR_HTTP_PARSE', 'invalid character in a chunk extension');
    }
    const size = Number.parseInt(m[1]!, 16);
    if (size === 0) {
      // Last chunk: the trailer section follows; an immediate CR LF means none.
      this.#state = State.Trailers;
      this.#matched = 2;
    } else {
      this.#state = State.ChunkData;
      this.#remaining = size;
    }
  }

  #onHead(block: Uint8Array, events: ParseEvent[]): void {
    const text = latin1Decode(block);
    const eol = text.indexOf('\r\n');
    const statusLine = text.slice(0, eol);
    // RFC 9112 §4: HTTP-version SP status-code SP [ reason-phrase ]; some servers omit the last SP.
    const m = /^HTTP\/1\.([01]) ([1-5][0-9][0-9])(?: ([^\r\n]*))?$/.exec(statusLine);
    if (!m)
      throw new HttpParseError(
        'ERR_HTTP_PARSE',
        `invalid status line: ${JSON.stringify(statusLine.slice(0, 100))}`,
      );
    const statusText = m[3] ?? '';
    if (!isFieldValue(statusText))
      throw new HttpParseError('ERR_HTTP_PARSE', 'invalid reason phrase');
    const version = m[1] === '1' ? '1.1' : '1.0';
    const status = Number(m[2]);
    const headers = this.#parseFields(block, eol + 2, 'header', text);
    const head: ResponseHead = {
      version,
      status,
      statusText,
      headers,
      framing: { kind: 'none' },
      keepAlive: false,
    };
    events.push({ type: 'head', head });
    if (status < 200) {
      if (status === 101) {
        this.#finalHeadSeen = true;
        this.#state = State.Upgraded;
      } else {
        this.#state = State.Head; // 100, 102, 103: the final response follows.
      }
      return;
    }
    this.#finalHeadSeen = true;
    const { framing, mustClose } = this.#framing(status, headers);
    head.framing = framing;
    head.keepAlive =
      version === '1.1' &&
      !mustClose &&
      framing.kind !== 'close' &&
      !hasToken(headers, 'connection', 'close');
    switch (framing.kind) {
      case 'none':
        events.push({ type: 'end', trailers: [] });
        this.#state = State.Done;
        break;
      case 'length':
        if (framing.length === 0) {
          events.push({ type: 'end', trailers: [] });
          this.#state = State.Done;
        } else {
          this.#state = State.BodyLength;
          this.#remaining = framing.length;
        }
        break;
      case 'chunked':
        this.#state = State.ChunkSize;
        break;
      case 'close':
        this.#state = State.BodyClose;
        break;
    }
  }

  /** RFC 9112 §6.3, in order. */
  #framing(
    status: number,
    headers: [string, string][],
  ): { framing: ResponseFraming; mustClose: boolean } {
    if (this.#method === 'HEAD' || status === 204 || status === 304) {
      return { framing: { kind: 'none' }, mustClose: false };
    }
    const te = listValues(headers, 'transfer-encoding');
    const cl = listValues(headers, 'content-length');
    if (te.length > 0) {
      const codings = te.map((c) => c.toLowerCase());
      if (codings[codings.length - 1] !== 'chunked') {
        return { framing: { kind: 'close' }, mustClose: true };
      }
      if (codings.length !== 1) {
        throw new HttpParseError('ERR_HTTP_PARSE', `unsupported transfer coding: ${te.join(', ')}`);
      }
      // Both present: Transfer-Encoding wins, and the connection must not be reused (§6.3 item 3).
      return { framing: { kind: 'chunked' }, mustClose: cl.length > 0 };
    }
    if (cl.length > 0) {
      if (!cl.every((v) => /^[0-9]{1,15}$/.test(v))) {
        throw new HttpParseError('ERR_HTTP_PARSE', `invalid Content-Length: ${cl.join(', ')}`);
      }
      if (!cl.every((v) => Number(v) === Number(cl[0]))) {
        throw new HttpParseError(
          'ERR_HTTP_PARSE',
          `conflicting Content-Length values: ${cl.join(', ')}`,
        );
      }
      return { framing: { kind: 'length', length: Number(cl[0]) }, mustClose: false };
    }
    return { framing: { kind: 'close' }, mustClose: true };
  }

  #parseFields(
    block: Uint8Array,
    start: number,
    what: 'header' | 'trailer',
    decoded?: string,
  ): [string, string][] {
    const text = decoded ?? latin1Decode(block);
    const fields: [string, string][] = [];
    let pos = start;
    for (;;) {
      const eol = text.indexOf('\r\n', pos);
      if (eol === pos || eol < 0) break;
      const line = text.slice(pos, eol);
      pos = eol + 2;
      if (line.charCodeAt(0) === 0x20 || line.charCodeAt(0) === 0x09) {
        throw new HttpParseError('ERR_HTTP_PARSE', `obsolete line folding in a ${what} field`);
      }
      const colon = line.indexOf(':');
      const name = colon < 0 ? '' : line.slice(0, colon);
      if (!isToken(name)) {
        throw new HttpParseError(
          'ERR_HTTP_PARSE',
          `invalid ${what} field line: ${JSON.stringify(line.slice(0, 100))}`,
        );
      }
      const value = line.slice(colon + 1).replace(/^[\t ]+|[\t ]+$/g, '');
      if (!isFieldValue(value)) {
        throw new HttpParseError('ERR_HTTP_PARSE', `invalid character in ${what} field ${name}`);
      }
      if (fields.length >= this.#maxHeaders) {
        throw new HttpParseError(
          'ERR_HTTP_TOO_MANY_HEADERS',
          `more than ${this.#maxHeaders} ${what} fields`,
        );
      }
      fields.push([name, value]);
    }
    return fields;
  }
}

/** The comma-separated elements of every field with this name (RFC 9110 §5.6.1). */
function listValues(headers: [string, string][], name: string): string[] {
  const out: string[] = [];
  for (const [n, v] of headers) {
    if (n.toLowerCase() !== name) continue;
    for (const part of v.split(',')) {
      const t = part.trim();
      if (t) out.push(t);
    }
  }
  return out;
}

function hasToken(headers: [string, string][], name: string, token: string): boolean {
  return listValues(headers, name).some((v) => v.toLowerCase() === token);
}
