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
 * Checks that `requests`, in order, are one download: the page's own request and then
 * continuations, each a `bytes=N-` Range with `ifRange`, starting further on than the one before;
 * every answer but the last cut short, the last sent whole. Returns where each continuation
 * started. A worker may cut a download it can resume as often as its page falls behind, so tests
 * say how many continuations they expect only when nothing else could cut.
 */
export function continuationStarts(
  requests: readonly DownloadRequest[],
  ifRange: string,
  size: number,
): number[] {
  const [first, ...rest] = requests;
  if (first?.range !== '' || rest.length === 0)
    throw new Error(`not one resumed download: ${JSON.stringify(requests)}`);
  const starts = rest.map((r) => {
    const at = Number(/^bytes=(\d+)-$/.exec(r.range)?.[1] ?? Number.NaN);
    if (r.ifRange !== ifRange || !(at > 0 && at < size))
      throw new Error(`not a continuation of a ${size}-byte download: ${JSON.stringify(r)}`);
    return at;
  });
  const sent = requests.map((r) => r.sent);
  const ordered = starts.every((at, i) => i === 0 || at > starts[i - 1]!);
  if (!ordered || sent.at(-1) !== 'whole' || sent.slice(0, -1).some((s) => s !== 'cut'))
    throw new Error(`continuations out of order or not cut: ${JSON.stringify(requests)}`);
  return starts;
}
