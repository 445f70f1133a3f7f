import { describe, expect, it } from 'vitest';
import { DATA_URL_LIMIT, dispositionFilename, installDownloadLinks } from './download-links.ts';

describe('Content-Disposition filename', () => {
  it('prefers filename* (UTF-8), then filename, quoted or not', () => {
    expect(
      dispositionFilename(
        `attachment; filename="plain.txt"; filename*=UTF-8''%E2%82%AC%20rates.csv`,
      ),
    ).toBe('€ rates.csv');
    expect(dispositionFilename('attachment; filename="a \\"b\\".bin"')).toBe('a "b".bin');
    expect(dispositionFilename('attachment; filename=report.csv')).toBe('report.csv');
    expect(dispositionFilename(`attachment; filename*=UTF-8''%ZZ; filename=ok.txt`)).toBe('ok.txt');
    expect(dispositionFilename('attachment')).toBe('');
    expect(dispositionFilename(null)).toBe('');
  });
});

/** A page with one link; what was fetched, clicked for download and reported. */
function setup(opts: {
  href: string;
  download: string;
  response?: () => Promise<Response>;
  tag?: string;
}) {
  const fetched: string[] = [];
  const saved: { href: string; name: string }[] = [];
  const reports: string[] = [];
  const listeners: ((e: MouseEvent) => void)[] = [];
  const timers: (() => void)[] = [];
  const link = {
    href: new URL(opts.href, 'https://app.test/downloads').href,
    getAttribute: (n: string) => (n === 'download' ? opts.download : null),
    closest: (sel: string) => (sel.includes(`${opts.tag ?? 'a'}[download]`) ? link : null),
  };
  const doc = {
    baseURI: 'https://app.test/downloads',
    addEventListener: (_t: string, l: (e: MouseEvent) => void, capture: boolean) => {
      expect(capture).toBe(true);
      listeners.push(l);
    },
    createElement: () => {
      const a = {
        href: '',
        download: '',
        style: {} as Record<string, string>,
        click: () => saved.push({ href: a.href, name: a.download }),
        remove: () => {},
      };
      return a;
    },
    body: { appendChild: () => {} },
  };
  const win = {
    document: doc,
    fetch: async (url: string) => {
      fetched.push(url);
      return opts.response ? opts.response() : new Response('a,b\n1,2\n');
    },
    FileReader: class {
      result: string | null = null;
      onload: (() => void) | null = null;
      onerror: (() => void) | null = null;
      error = null;
      readAsDataURL(blob: Blob) {
        void blob.arrayBuffer().then((b) => {
          this.result = `data:${blob.type};base64,${Buffer.from(b).toString('base64')}`;
          this.onload?.();
        });
      }
    },
    URL: {
      createObjectURL: () => 'blob:https://app.test/1',
      revokeObjectURL: () => {},
    },
    setTimeout: (f: () => void) => timers.push(f),
  } as unknown as Window & typeof globalThis;
  installDownloadLinks(win, {
    shouldTunnel: (u) => u.host === 'app.test',
    report: (m) => reports.push(m),
  });
  const click = () => {
    let prevented = false;
    const event = {
      button: 0,
      defaultPrevented: false,
      target: { closest: link.closest },
      preventDefault: () => {
        prevented = true;
      },
    } as unknown as MouseEvent;
    for (const l of listeners) l(event);
    return { event, prevented: () => prevented };
  };
  const settle = async () => {
    while (timers.length) timers.shift()!();
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  return { click, settle, fetched, saved, reports };
}

describe('download links', () => {
  it('fetches a tunnelled <a download> itself and saves it under the download attribute', async () => {
    const s = setup({ href: '/files/report.csv', download: 'mine.csv' });
    const { prevented } = s.click();
    expect(prevented()).toBe(true);
    await s.settle();
    expect(s.fetched).toEqual(['https://app.test/files/report.csv']);
    expect(s.saved).toHaveLength(1);
    expect(s.saved[0]!.name).toBe('mine.csv');
    const href = s.saved[0]!.href;
    expect(href.startsWith('data:')).toBe(true);
    expect(Buffer.from(href.slice(href.indexOf(',') + 1), 'base64').toString()).toBe('a,b\n1,2\n');
  });

  it('names the file by Content-Disposition, else by the last path segment', async () => {
    const byHeader = setup({
      href: '/files/x',
      download: '',
      response: async () =>
        new Response('x', { headers: { 'content-disposition': 'attachment; filename="r.bin"' } }),
    });
    byHeader.click();
    await byHeader.settle();
    expect(byHeader.saved.map((s) => s.name)).toEqual(['r.bin']);
    const byPath = setup({ href: '/files/q%20report.csv', download: '', tag: 'area' });
    byPath.click();
    await byPath.settle();
    expect(byPath.saved.map((s) => s.name)).toEqual(['q report.csv']);
  });

  it('hands a large file over as a blob: URL', async () => {
    const s = setup({
      href: '/files/big',
      download: 'big.bin',
      response: async () => new Response(new Uint8Array(DATA_URL_LIMIT + 1)),
    });
    s.click();
    await s.settle();
    expect(s.saved).toEqual([{ href: 'blob:https://app.test/1', name: 'big.bin' }]);
  });

  it('fails closed: a failed fetch saves nothing and says so once, naming the URL', async () => {
    const s = setup({
      href: '/files/report.csv',
      download: 'report.csv',
      response: async () => {
        throw new TypeError('Failed to fetch');
      },
    });
    const { prevented } = s.click();
    expect(prevented()).toBe(true);
    await s.settle();
    expect(s.saved).toEqual([]);
    expect(s.reports).toHaveLength(1);
    expect(s.reports[0]).toContain('[zt] https://app.test/files/report.csv');
  });

  it('leaves links the worker does not tunnel to the browser, and honours an app that cancels the click', async () => {
    const open = setup({ href: 'https://open.example/f.csv', download: '' });
    expect(open.click().prevented()).toBe(false);
    await open.settle();
    expect(open.fetched).toEqual([]);
    const cancelled = setup({ href: '/files/report.csv', download: '' });
    const { event } = cancelled.click();
    event.preventDefault(); // the app's own handler, after ours
    await cancelled.settle();
    expect(cancelled.fetched).toEqual([]);
    expect(cancelled.saved).toEqual([]);
  });
});
