import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OIDC_CALLBACK_PATH } from './controller/oidc.ts';
import { serveStaticSite } from './static-site.ts';

describe('serveStaticSite', () => {
  let base = '';
  let close = () => {};
  beforeAll(async () => {
    const root = mkdtempSync(join(tmpdir(), 'zt-static-'));
    mkdirSync(join(root, '__zt'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>bootstrap</title>');
    writeFileSync(join(root, 'sw.js'), 'self;');
    writeFileSync(join(root, '__zt', 'shim.js'), 'window;');
    const server = await serveStaticSite({ root, host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(() => close());

  it('answers any deep link with the bootstrap page', async () => {
    const res = await fetch(`${base}/channels/town-square?x=1`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<title>bootstrap</title>');
  });

  it('serves the service worker as JavaScript that is always revalidated', async () => {
    const res = await fetch(`${base}/sw.js`);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
  });

  it('serves the shim under the reserved prefix', async () => {
    const res = await fetch(`${base}/__zt/shim.js`);
    expect(await res.text()).toBe('window;');
  });
});

describe('serveStaticSite generated files', () => {
  it('serves /__zt/config.json from a function, answering only once the fabric is ready', async () => {
    const root = mkdtempSync(join(tmpdir(), 'zt-static-'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>bootstrap</title>');
    let controller = '';
    let markReady!: () => void;
    const ready = new Promise<void>((r) => {
      markReady = r;
    });
    const server = await serveStaticSite({
      root,
      host: '127.0.0.1',
      port: 0,
      ready,
      generated: { '/__zt/config.json': () => ({ controller, service: 'demo' }) },
    });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/__zt/config.json`;
      const pending = fetch(url);
      await new Promise((r) => setTimeout(r, 50));
      controller = 'http://127.0.0.1:1280';
      markReady();
      const res = await pending;
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.json()).toEqual({ controller: 'http://127.0.0.1:1280', service: 'demo' });
    } finally {
      server.close();
    }
  });
});

describe('serveStaticSite OIDC callback', () => {
  let base = '';
  let close = () => {};
  beforeAll(async () => {
    const root = mkdtempSync(join(tmpdir(), 'zt-static-'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>bootstrap</title>');
    // Never ready: the callback must not wait for the rest of the fabric.
    const server = await serveStaticSite({
      root,
      host: '127.0.0.1',
      port: 0,
      ready: new Promise(() => {}),
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => {
      server.closeAllConnections();
      server.close();
    };
  });
  afterAll(() => close());

  it('answers GET with a tiny uncached body any origin may read, without the query', async () => {
    const res = await fetch(`${base}${OIDC_CALLBACK_PATH}?code=secret-code&state=s1`, {
      headers: { origin: 'null' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await res.text();
    expect(body).toBe('{}');
    expect(body).not.toContain('secret-code');
  });

  it('answers the preflight Firefox sends with 204 and the allow headers', async () => {
    const res = await fetch(`${base}${OIDC_CALLBACK_PATH}?code=c`, {
      method: 'OPTIONS',
      headers: {
        origin: 'null',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'x-custom',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toBe('GET');
    expect(res.headers.get('access-control-allow-headers')).toBe('*');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).toBe('');
  });

  it('refuses other methods', async () => {
    const res = await fetch(`${base}${OIDC_CALLBACK_PATH}`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
  });
});
