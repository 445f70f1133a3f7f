/**
 * Reading the probe app's `/file` in the page and checking every byte against `fileWord`
 * (e2e/support/probe-app.ts). Runs in the page through `page.evaluate`, so it closes over nothing.
 */
export interface FileRead {
  status: number;
  length: number;
  /** The first byte that is not the file's, or -1. */
  firstWrong: number;
}

/**
 * Fetches `url` (or, with `held`, goes on with the reader and first bytes a page kept in
 * `window.held`) and reads it to the end.
 */
export async function readFileBody(arg: { url: string } | { held: true }): Promise<FileRead> {
  const word = (i: number) => Math.imul(i ^ 0x5bd1e995, 0x9e3779b1) >>> 0;
  const w = window as unknown as {
    held: { reader: ReadableStreamDefaultReader<Uint8Array>; first: Uint8Array; status: number };
  };
  if ('url' in arg) {
    const response = await fetch(arg.url);
    w.held = {
      reader: response.body!.getReader(),
      first: new Uint8Array(0),
      status: response.status,
    };
  }
  const { reader, first, status } = w.held;
  let at = 0;
  let firstWrong = -1;
  const check = (chunk: Uint8Array) => {
    for (let i = 0; i < chunk.length; i++, at++) {
      // Byte `at`: the little-endian byte of its word.
      if (firstWrong < 0 && chunk[i] !== (word(at >>> 2) >>> (8 * (at & 3))) % 256) firstWrong = at;
    }
  };
  check(first);
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    check(r.value);
  }
  return { status, length: at, firstWrong };
}

/** Fetches `url` and keeps its reader and first bytes in `window.held`, reading nothing more. */
export async function holdFileBody(url: string): Promise<void> {
  const response = await fetch(url);
  const reader = response.body!.getReader();
  const first = await reader.read();
  (window as unknown as { held: unknown }).held = {
    reader,
    first: first.value ?? new Uint8Array(0),
    status: response.status,
  };
}

/** What the app saw of one request for a download (the probe app's or Mattermost's records). */
export interface DownloadRequest {
  range: string;
  ifRange: string;
  sent?: 'whole' | 'cut';
}

/**
 * Checks that `requests`, in order, are one download: the page's own request, cut short, and then
 * the worker's continuations, each a `bytes=N-M` Range with `ifRange`. A continuation after one
 * that was sent whole starts where that one's range ended; after one that was cut, somewhere
 * before; the last is sent whole and reaches the end. Returns where each continuation started.
 */
export function continuationStarts(
  requests: readonly DownloadRequest[],
  ifRange: string,
  size: number,
): number[] {
  const [first, ...rest] = requests;
  if (first?.range !== '' || first.sent !== 'cut' || rest.length === 0)
    throw new Error(`not one resumed download: ${JSON.stringify(requests)}`);
  let end = size; // where the answer before ends (exclusive)
  let whole = false; // and whether it was sent whole
  return rest.map((r, i) => {
    const m = /^bytes=(\d+)-(\d+)$/.exec(r.range);
    const at = Number(m?.[1]);
    const last = Math.min(Number(m?.[2]), size - 1);
    const placed = whole ? at === end : at > 0 && at < end;
    const final = i === rest.length - 1;
    if (!m || r.ifRange !== ifRange || !placed || last < at || (final && last !== size - 1))
      throw new Error(`not a continuation of a ${size}-byte download: ${JSON.stringify(requests)}`);
    if (final && r.sent !== 'whole')
      throw new Error(`the last continuation was cut: ${JSON.stringify(requests)}`);
    end = last + 1;
    whole = r.sent === 'whole';
    return at;
  });
}
