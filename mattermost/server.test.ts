/**
 * Mattermost's own server (server.ts) on PostgreSQL: what our product relies on, checked against
 * the real thing. Needs the binary of build-mattermost.sh and Debian's PostgreSQL: the vitest
 * project `mattermost`, which `npm run test:real` runs after the build.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  cachedMattermostBinary,
  demoUiClientDir,
  postgresBinDir,
  type RunningMattermost,
  startMattermost,
} from './server.ts';

const binary = cachedMattermostBinary();
const SITE = 'http://chat.zt-demo.test';

interface Session {
  cookie: string;
  csrf: string;
  userId: string;
  setCookies: string[];
}

describe('Mattermost server (server.ts)', () => {
  let mm: RunningMattermost;
  let dir: string;

  beforeAll(async () => {
    if (!binary)
      throw new Error('run mattermost/build-mattermost.sh first: the server is not built');
    if (!postgresBinDir())
      throw new Error('PostgreSQL is not installed (Debian package postgresql)');
    dir = mkdtempSync(join(tmpdir(), 'zt-mattermost-test-'));
    mm = await startMattermost({ binary: binary!, dir, siteUrl: SITE });
  }, 180_000);

  afterAll(async () => {
    await mm?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const login = async (username: string, password: string): Promise<Session> => {
    const res = await fetch(`${mm.url}/api/v4/users/login`, {
      method: 'POST',
      headers: { 'X-Requested-With': 'XMLHttpRequest', 'content-type': 'application/json' },
      body: JSON.stringify({ login_id: username, password }),
    });
    expect(res.status).toBe(200);
    const setCookies = res.headers.getSetCookie();
    const value = (name: string) =>
      /^[^=]+=([^;]*)/.exec(setCookies.find((c) => c.startsWith(`${name}=`)) ?? '')?.[1] ?? '';
    return {
      cookie: ['MMAUTHTOKEN', 'MMUSERID', 'MMCSRF'].map((n) => `${n}=${value(n)}`).join('; '),
      csrf: value('MMCSRF'),
      userId: value('MMUSERID'),
      setCookies,
    };
  };

  const post = (s: Session, message: string, headers: Record<string, string> = {}) =>
    fetch(`${mm.url}/api/v4/posts`, {
      method: 'POST',
      headers: { cookie: s.cookie, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ channel_id: mm.channels[0]!.id, message }),
    });

  it('starts with the admin, the demo users, the team and its two channels', () => {
    expect(mm.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(mm.users.map((u) => u.username)).toEqual(['alice', 'bob']);
    expect(mm.team.name).toBe('demo');
    expect(mm.channels.map((c) => c.name)).toEqual(['town-square', 'off-topic']);
  });

  it('login sets MMAUTHTOKEN (HttpOnly), MMUSERID and MMCSRF (readable), Path=/', async () => {
    const s = await login('alice', 'alice-demo-pass');
    const byName = (n: string) => s.setCookies.find((c) => c.startsWith(`${n}=`)) ?? '';
    expect(byName('MMAUTHTOKEN')).toMatch(/; Path=\/;.*; Max-Age=\d+; HttpOnly$/);
    expect(byName('MMUSERID')).not.toMatch(/HttpOnly/);
    expect(byName('MMCSRF')).not.toMatch(/HttpOnly/);
    expect(s.userId).toBe(mm.users[0]!.id);
  });

  it('CSRF: a cookie write needs X-CSRF-Token, or X-Requested-With unless strict', async () => {
    const s = await login('alice', 'alice-demo-pass');
    expect((await post(s, 'no header')).status).toBe(401);
    expect((await post(s, 'wrong token', { 'X-CSRF-Token': 'nope' })).status).toBe(401);
    expect((await post(s, 'token', { 'X-CSRF-Token': s.csrf })).status).toBe(201);
    // Mattermost's default (ExperimentalStrictCSRFEnforcement false): XHR marker alone passes.
    expect((await post(s, 'xhr', { 'X-Requested-With': 'XMLHttpRequest' })).status).toBe(201);
  });

  it('websocket: Origin must be the Site URL; a post reaches the other user', async () => {
    const alice = await login('alice', 'alice-demo-pass');
    const bob = await login('bob', 'bob-demo-pass');
    const wsUrl = `${mm.url.replace('http', 'ws')}/api/v4/websocket`;
    const refused = await new Promise<number>((ok, fail) => {
      const ws = new WebSocket(wsUrl, { headers: { cookie: bob.cookie, origin: mm.url } });
      ws.on('unexpected-response', (_req, res) => ok(res.statusCode ?? 0));
      ws.on('open', () => fail(new Error('opened with a foreign Origin')));
      ws.on('error', fail);
    });
    expect(refused).toBe(403);
    const ws = new WebSocket(wsUrl, { headers: { cookie: bob.cookie, origin: SITE } });
    const events: { event?: string; data?: Record<string, string> }[] = [];
    const posted = new Promise<string>((ok) => {
      ws.on('message', (m) => {
        const e = JSON.parse(m.toString()) as { event?: string; data?: Record<string, string> };
        events.push(e);
        if (e.event === 'posted') ok((JSON.parse(e.data!.post!) as { message: string }).message);
      });
    });
    await new Promise((ok) => ws.once('open', ok));
    await expect.poll(() => events[0]?.event).toBe('hello');
    expect((await post(alice, 'hello bob', { 'X-CSRF-Token': alice.csrf })).status).toBe(201);
    expect(await posted).toBe('hello bob');
    ws.close();
  });

  it('files: multipart upload, download, Range 206 and 416', async () => {
    const s = await login('alice', 'alice-demo-pass');
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);
    const form = new FormData();
    form.append('channel_id', mm.channels[0]!.id);
    form.append('files', new Blob([bytes]), 'blob.bin');
    const up = await fetch(`${mm.url}/api/v4/files`, {
      method: 'POST',
      headers: { cookie: s.cookie, 'X-CSRF-Token': s.csrf },
      body: form,
    });
    expect(up.status).toBe(201);
    const { file_infos } = (await up.json()) as { file_infos: { id: string; size: number }[] };
    expect(file_infos[0]!.size).toBe(bytes.length);
    const url = `${mm.url}/api/v4/files/${file_infos[0]!.id}`;
    const full = await fetch(url, { headers: { cookie: s.cookie, 'accept-encoding': 'identity' } });
    expect(full.status).toBe(200);
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect(full.headers.get('content-length')).toBe(String(bytes.length));
    expect(new Uint8Array(await full.arrayBuffer())).toEqual(bytes);
    // WebserverMode "gzip" (the default): a whole download is gzipped if the client accepts it,
    // even incompressible bytes, and then carries neither Accept-Ranges nor Content-Length.
    const gzipped = await fetch(url, { headers: { cookie: s.cookie, 'accept-encoding': 'gzip' } });
    expect(gzipped.headers.get('content-encoding')).toBe('gzip');
    expect(gzipped.headers.get('accept-ranges')).toBeNull();
    expect(gzipped.headers.get('x-uncompressed-content-length')).toBe(String(bytes.length));
    expect(new Uint8Array(await gzipped.arrayBuffer())).toEqual(bytes);
    const part = await fetch(url, { headers: { cookie: s.cookie, range: 'bytes=100000-' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100000-299999/${bytes.length}`);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.slice(100_000));
    const beyond = await fetch(url, { headers: { cookie: s.cookie, range: 'bytes=900000-' } });
    expect(beyond.status).toBe(416);
  });

  it('logout expires MMAUTHTOKEN and revokes the session', async () => {
    const s = await login('bob', 'bob-demo-pass');
    const res = await fetch(`${mm.url}/api/v4/users/logout`, {
      method: 'POST',
      headers: { cookie: s.cookie, 'X-CSRF-Token': s.csrf },
    });
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toContain('MMAUTHTOKEN=; Path=/; Max-Age=0; HttpOnly');
    const me = await fetch(`${mm.url}/api/v4/users/me`, { headers: { cookie: s.cookie } });
    expect(me.status).toBe(401);
  });

  it('serves the demo UI as its webapp, follows a new Site URL, and close() stops it', async () => {
    const demoUi = existsSync(join(import.meta.dirname, '../fabric/demo-app/web/dist/index.html'));
    const other = await startMattermost({
      binary: binary!,
      dir: join(dir, 'second'),
      siteUrl: 'http://placeholder.invalid',
      users: [],
      clientDir: demoUi ? demoUiClientDir(join(dir, 'demo-ui')) : undefined,
    });
    expect(other.startMs).toBeGreaterThan(0);
    if (demoUi) {
      const page = await fetch(`${other.url}/demo/channels/town-square`);
      expect(page.status).toBe(200);
      // Mattermost's own CSP on every page (note the space before the semicolon).
      expect(page.headers.get('content-security-policy')).toBe(
        "frame-ancestors 'self' ; script-src 'self'",
      );
      expect(await page.text()).toContain('/static/assets/');
      expect((await fetch(`${other.url}/static/icon.svg`)).status).toBe(200);
    }
    await other.setSiteUrl(other.url);
    const opened = await new Promise<boolean>((ok) => {
      const ws = new WebSocket(`${other.url.replace('http', 'ws')}/api/v4/websocket`, {
        headers: { origin: other.url },
      });
      ws.on('open', () => {
        ws.close();
        ok(true);
      });
      ws.on('unexpected-response', () => ok(false));
    });
    expect(opened).toBe(true);
    await other.close();
    await expect(fetch(`${other.url}/api/v4/system/ping`)).rejects.toThrow();
  }, 180_000);
});
