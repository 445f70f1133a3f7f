import { describe, expect, it } from 'vitest';
import { SW_HEADER } from '../../shared/version.ts';
import { installSyncXhr, probeSyncXhr, SYNC_XHR_PROBE_PATH } from './sync-xhr.ts';

/** What reached "the network": method, URL and whether it was synchronous. */
type Sent = { method: string; url: string; sync: boolean };

function setup(opts: { carries?: boolean; probeHeader?: string | null; probeThrows?: boolean }) {
  const sent: Sent[] = [];
  class FakeXhr {
    readyState = 0;
    method = '';
    url = '';
    sync = false;
    responseHeaders: Record<string, string> = {};
    open(...args: [string, string, boolean?]) {
      const [method, url, async] = args;
      this.method = method;
      this.url = url;
      this.sync = args.length >= 3 && !async;
      this.readyState = 1;
    }
    send() {
      sent.push({ method: this.method, url: this.url, sync: this.sync });
      if (this.url.endsWith(SYNC_XHR_PROBE_PATH)) {
        if (opts.probeThrows) throw new Error('network error');
        if (opts.probeHeader) this.responseHeaders[SW_HEADER] = opts.probeHeader;
      }
      this.readyState = 4;
    }
    getResponseHeader(name: string) {
      return this.responseHeaders[name] ?? null;
    }
  }
  const win = {
    XMLHttpRequest: FakeXhr,
    DOMException,
    location: new URL('https://app.test/x/page'),
    document: { baseURI: 'https://app.test/x/page' },
  } as unknown as Window & typeof globalThis;
  const reports: string[] = [];
  installSyncXhr(win, {
    shouldTunnel: (u) => u.host === 'app.test' || u.host === 'dark.corp',
    ...(opts.carries === undefined ? {} : { carriesSyncXhr: () => opts.carries! }),
    report: (m) => reports.push(m),
  });
  const xhr = (method: string, url: string, ...rest: unknown[]) => {
    const x = new win.XMLHttpRequest();
    (x.open as (...a: unknown[]) => void)(method, url, ...rest);
    return x;
  };
  return { sent, reports, xhr };
}

describe('synchronous XMLHttpRequest', () => {
  it('fails closed with a NetworkError where the browser cannot carry it, saying so once per URL', () => {
    const { sent, reports, xhr } = setup({ carries: false });
    for (let i = 0; i < 2; i++) {
      const x = xhr('GET', '/api/data', false);
      expect(() => x.send()).toThrow(expect.objectContaining({ name: 'NetworkError' }));
    }
    expect(() => xhr('POST', 'http://dark.corp/save', false).send('x')).toThrow(DOMException);
    expect(sent).toEqual([]);
    expect(reports).toEqual([
      expect.stringMatching(
        /^\[zt\] synchronous XMLHttpRequest to https:\/\/app\.test\/api\/data cannot go through the zero-trust tunnel in this browser \(.+\)/,
      ),
      expect.stringContaining('to http://dark.corp/save cannot go through'),
    ]);
  });

  it('leaves asynchronous requests, other hosts and our own paths alone', () => {
    const { sent, reports, xhr } = setup({ carries: false });
    xhr('GET', '/api/a').send();
    xhr('GET', '/api/b', true).send();
    xhr('GET', 'https://public.example/x', false).send();
    xhr('GET', '/__zt/config.json', false).send();
    expect(sent.map((s) => `${s.url} ${s.sync}`)).toEqual([
      '/api/a false',
      '/api/b false',
      'https://public.example/x true',
      '/__zt/config.json true',
    ]);
    expect(reports).toEqual([]);
  });

  it('open(method, url, undefined) is synchronous, as WebIDL converts it', () => {
    const { sent, xhr } = setup({ carries: false });
    expect(() => xhr('GET', '/api/u', undefined).send()).toThrow(DOMException);
    expect(sent).toEqual([]);
  });

  it('sends it where the browser carries it through the worker', () => {
    const { sent, reports, xhr } = setup({ carries: true });
    xhr('GET', '/api/data', false).send();
    expect(sent).toEqual([{ method: 'GET', url: '/api/data', sync: true }]);
    expect(reports).toEqual([]);
  });

  it('probes once, lazily: the worker answers /__zt/sw-ping with its header', () => {
    const { sent, xhr } = setup({ probeHeader: '0.1.0' });
    xhr('GET', '/api/a').send();
    expect(sent).toHaveLength(1); // no probe for an asynchronous request
    xhr('GET', '/api/b', false).send();
    xhr('GET', '/api/c', false).send();
    expect(sent.map((s) => s.url)).toEqual([
      '/api/a',
      `https://app.test${SYNC_XHR_PROBE_PATH}`,
      '/api/b',
      '/api/c',
    ]);
    expect(sent[1]?.sync).toBe(true);
  });

  it('an answer without the header (the static site) or a failed probe means it cannot be carried', () => {
    for (const opts of [{ probeHeader: null }, { probeThrows: true }]) {
      const { sent, xhr, reports } = setup(opts);
      expect(() => xhr('GET', '/api/b', false).send()).toThrow(DOMException);
      expect(() => xhr('GET', '/api/c', false).send()).toThrow(DOMException);
      expect(sent.map((s) => s.url)).toEqual([`https://app.test${SYNC_XHR_PROBE_PATH}`]);
      expect(reports).toHaveLength(2);
    }
  });

  it('probeSyncXhr reads the header of a synchronous GET', () => {
    const open = function (this: { h: string | null }, ..._a: unknown[]) {
      this.h = null;
    };
    const send = function (this: { h: string | null }) {
      this.h = 'x';
    };
    class X {
      h: string | null = null;
      getResponseHeader() {
        return this.h;
      }
    }
    const win = {
      XMLHttpRequest: X,
      location: { href: 'https://app.test/' },
    } as unknown as Window & typeof globalThis;
    expect(probeSyncXhr(win, open as never, send as never)).toBe(true);
  });
});
