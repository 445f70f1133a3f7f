/**
 * `<a download href>` (and `<area download>`) to a URL the worker tunnels, fetched through the worker
 * in every browser.
 *
 * Chromium starts such a download past the service worker: the request goes to the network (the
 * static site, or the open network for a dark sibling host) and the download fails. Firefox hands
 * it to the worker. So the shim takes every such click, in every browser the same way: it stops the
 * browser's own download, fetches the URL with the page's `fetch` (through the worker, with the
 * page's credentials), keeps the body as a Blob and downloads that under the file's name from a
 * temporary link. The name is the `download` attribute when it has one, else the response's
 * `Content-Disposition` filename (RFC 6266: `filename*` first, then `filename`), else the last path
 * segment. Small files are handed over as a `data:` URL, larger ones as a `blob:` URL
 * (`DATA_URL_LIMIT`). When the fetch fails, the console says so once, naming the URL, and nothing is
 * downloaded: the link never goes to the network in clear.
 *
 * A download ignores `target`; a click with a modifier key (which would open the link elsewhere
 * rather than download it) still downloads here, since opening it elsewhere would not download it
 * in any browser either when `download` is set.
 */

export interface InstallDownloadLinksOptions {
  /** Whether the service worker carries a request to this URL over the tunnel. */
  shouldTunnel(url: URL): boolean;
  /** Where the console error goes (tests). */
  report?: (message: string) => void;
}

type Win = Window & typeof globalThis;

/** The filename of a `Content-Disposition` value (RFC 6266, RFC 8187), or '' for none. */
export function dispositionFilename(header: string | null): string {
  if (!header) return '';
  const params = new Map<string, string>();
  const re = /;\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;
  for (const m of header.matchAll(re)) {
    const name = (m[1] ?? '').toLowerCase();
    let value = (m[2] ?? '').trim();
    if (value.startsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    if (!params.has(name)) params.set(name, value);
  }
  const extended = params.get('filename*');
  if (extended) {
    const m = /^([^']*)'[^']*'(.*)$/.exec(extended);
    if (m && (m[1] ?? '').toLowerCase() === 'utf-8') {
      try {
        const name = decodeURIComponent(m[2] ?? '');
        if (name) return name;
      } catch {
        // A malformed value: fall back to `filename`.
      }
    }
  }
  return params.get('filename') ?? '';
}

/** The last path segment of a URL, decoded ('' for none). */
function lastSegment(url: URL): string {
  const segment = url.pathname.split('/').pop() ?? '';
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** What a browser would not allow in a downloaded file's name. */
const safeName = (name: string) => name.replace(/[/\\]/g, '_');

type Link = HTMLAnchorElement | HTMLAreaElement;

/**
 * Files up to this size are handed to the browser as a `data:` URL, larger ones as a `blob:` URL
 * (Chromium refuses URLs over 2 MB). Firefox driven over WebDriver BiDi does not announce a
 * script-started `blob:` download that is the first of a session as a download (it still saves
 * it); a `data:` download it always announces, and it needs no revocation.
 */
export const DATA_URL_LIMIT = 1024 * 1024;

/** The blob as a `data:` URL (its bytes in base64). */
function dataUrl(win: Win, blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new win.FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob.type ? blob : new Blob([blob], { type: 'application/octet-stream' }));
  });
}

export function installDownloadLinks(win: Win, options: InstallDownloadLinksOptions): void {
  const report = options.report ?? ((m: string) => console.error(m));
  const doc = win.document;

  const save = async (blob: Blob, name: string) => {
    const small = blob.size <= DATA_URL_LIMIT;
    const href = small ? await dataUrl(win, blob) : win.URL.createObjectURL(blob);
    const a = doc.createElement('a');
    a.href = href;
    a.download = name;
    a.style.display = 'none';
    (doc.body ?? doc.documentElement).appendChild(a);
    try {
      a.click();
    } finally {
      a.remove();
      // The browser reads a blob: URL after the click returns: revoked a minute later.
      if (!small) win.setTimeout(() => win.URL.revokeObjectURL(href), 60_000);
    }
  };

  const download = async (link: Link, url: URL) => {
    try {
      const response = await win.fetch(url.href, { credentials: 'same-origin' });
      if (!response.ok) throw new Error(`${response.status} ${response.statusText}`.trim());
      const blob = await response.blob();
      const name =
        link.getAttribute('download') ||
        dispositionFilename(response.headers.get('content-disposition')) ||
        lastSegment(url) ||
        'download';
      await save(blob, safeName(name));
    } catch (err) {
      report(`[zt] ${url.href}: the download could not be fetched through the tunnel (${err})`);
    }
  };

  doc.addEventListener(
    'click',
    (event: MouseEvent) => {
      if (event.defaultPrevented || event.button !== 0) return;
      const target = event.target as Element | null;
      const link = target?.closest?.('a[download][href], area[download][href]') as Link | null;
      if (!link) return;
      let url: URL;
      try {
        url = new URL(link.href, doc.baseURI);
      } catch {
        return;
      }
      if (!/^https?:$/.test(url.protocol) || !options.shouldTunnel(url)) return;
      // The browser's own download never starts; the app's handlers still run, and one that
      // cancels the click cancels our download too.
      event.preventDefault();
      let cancelled = false;
      event.preventDefault = function preventDefault() {
        cancelled = true;
      };
      win.setTimeout(() => {
        if (!cancelled) void download(link, url);
      }, 0);
    },
    true,
  );
}
