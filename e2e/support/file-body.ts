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
