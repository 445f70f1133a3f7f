import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startTestApp } from './_test/harness.ts';
import { APP_CSP } from './static.ts';

let h: Harness;
let web: string;
const PAGE =
  '<!doctype html><html><head><meta http-equiv="Content-Security-Policy" content="script-src \'self\'">' +
  '<script type="module" src="/static/assets/app-1234.js"></script></head><body>chat</body></html>';

beforeAll(async () => {
  web = await mkdtemp(join(tmpdir(), 'demo-web-'));
  await mkdir(join(web, 'assets'));
  await writeFile(join(web, 'index.html'), PAGE);
  await writeFile(join(web, 'assets/app-1234.js'), 'console.log(1);');
  await writeFile(join(web, 'manifest.json'), '{"name":"Demo Chat"}');
  h = await startTestApp({ webDir: web });
});
afterAll(async () => {
  await h.close();
  await rm(web, { recursive: true, force: true });
});

describe('static side', () => {
  it('serves the app HTML with the app CSP for any GET outside /api/', async () => {
    for (const path of ['/', '/login', '/demo/channels/town-square', '/static']) {
      const res = await fetch(`${h.app.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html');
      // Mattermost's header, space before the semicolon included.
      expect(res.headers.get('content-security-policy')).toBe(
        "frame-ancestors 'self' ; script-src 'self'",
      );
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(APP_CSP).toBe("frame-ancestors 'self' ; script-src 'self'");
      expect(await res.text()).toBe(PAGE);
    }
  });

  it('serves /static/ assets with Mattermost caching and 404s missing ones', async () => {
    const js = await fetch(`${h.app.url}/static/assets/app-1234.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toBe('max-age=31556926, public');
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    const manifest = await fetch(`${h.app.url}/static/manifest.json`);
    expect(await manifest.json()).toEqual({ name: 'Demo Chat' });
    const missing = await fetch(`${h.app.url}/static/nope.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).not.toMatch(/html/);
    const traversal = await fetch(`${h.app.url}/static/..%2f..%2fetc/passwd`);
    expect(traversal.status).toBe(404);
  });

  it('answers other methods outside /api/ 404 and serves a placeholder page without a build', async () => {
    expect((await fetch(`${h.app.url}/`, { method: 'POST' })).status).toBe(404);
    const bare = await startTestApp({ webDir: join(web, 'missing') });
    try {
      const res = await fetch(`${bare.app.url}/anything`);
      expect(res.headers.get('content-security-policy')).toBe(APP_CSP);
      expect(await res.text()).toContain(
        '<meta http-equiv="Content-Security-Policy" content="script-src \'self\'">',
      );
    } finally {
      await bare.close();
    }
  });
});
