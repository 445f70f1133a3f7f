/**
 * What fabric/demo-app must do as Mattermost does, as one suite run against both: against
 * Mattermost's own server (agreement.test.ts here, vitest project `mattermost`) and against the
 * demo app (fabric/demo-app/agreement.test.ts, project `unit`). Each check is something the product
 * or the e2e flows (e2e/mattermost/flows.ts) rely on: session cookies, CSRF in both modes, the
 * websocket Origin rule, logout, the page's CSP, thumbnails, downloads with gzip and Range, raw
 * uploads, plugins off.
 */
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { encodePng } from '../fabric/demo-app/server/png.ts';

/** The Site URL both servers are configured with. */
export const AGREEMENT_SITE_URL = 'http://chat.zt-demo.test';

export interface AgreementTarget {
  /** Base URL to reach the server on. */
  url: string;
  /** A channel `alice` is a member of. */
  channelId: string;
  /** Switches ExperimentalStrictCSRFEnforcement while running. */
  setStrictCsrf(strict: boolean): Promise<void>;
  close(): Promise<void>;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

interface Login {
  setCookies: string[];
  cookie: string;
  csrf: string;
  token: string;
}

/** The session cookies' shape: Path, Expires, Max-Age of 180 days, HttpOnly for the token only. */
const COOKIE_SHAPE =
  /^MM(AUTHTOKEN|USERID|CSRF)=[a-z0-9]{26}; Path=\/; Expires=[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT; Max-Age=15552000(; HttpOnly)?$/;
const EXPIRED_TOKEN = 'MMAUTHTOKEN=; Path=/; Max-Age=0; HttpOnly';

export function describeAgreement(name: string, start: () => Promise<AgreementTarget>): void {
  describe(`Mattermost behaviour the demo app imitates: ${name}`, () => {
    let t: AgreementTarget;
    beforeAll(async () => {
      t = await start();
    }, 180_000);
    afterAll(async () => {
      await t?.close();
    }, 60_000);

    /**
     * One raw HTTP exchange (no automatic Accept-Encoding, unlike fetch) on a connection of its own:
     * reusing an idle keep-alive socket races the server closing it at its idle timeout (seen as
     * ECONNRESET on a loaded machine), and connection reuse is not what these checks are about.
     */
    const raw = (
      method: string,
      path: string,
      headers: Record<string, string> = {},
      body?: Buffer | string,
    ) =>
      new Promise<Answer>((ok, fail) => {
        const u = new URL(t.url);
        const r = request(
          { host: u.hostname, port: u.port, method, path, headers, agent: false },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              ok({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body: Buffer.concat(chunks),
              }),
            );
          },
        );
        r.on('error', fail);
        r.end(body);
      });

    const login = async (username: string, password: string): Promise<Login> => {
      const res = await raw(
        'POST',
        '/api/v4/users/login',
        { 'X-Requested-With': 'XMLHttpRequest', 'Content-Type': 'application/json' },
        JSON.stringify({ login_id: username, password }),
      );
      expect(res.status).toBe(200);
      const setCookies = (res.headers['set-cookie'] as string[] | undefined) ?? [];
      const value = (n: string) =>
        /^[^=]+=([^;]*)/.exec(setCookies.find((c) => c.startsWith(`${n}=`)) ?? '')?.[1] ?? '';
      return {
        setCookies,
        cookie: ['MMAUTHTOKEN', 'MMUSERID', 'MMCSRF'].map((n) => `${n}=${value(n)}`).join('; '),
        csrf: value('MMCSRF'),
        token: value('MMAUTHTOKEN'),
      };
    };
    const alice = () => login('alice', 'alice-demo-pass');

    const post = (s: Login, headers: Record<string, string>) =>
      raw(
        'POST',
        '/api/v4/posts',
        { Cookie: s.cookie, 'Content-Type': 'application/json', ...headers },
        JSON.stringify({ channel_id: t.channelId, message: 'agreement' }),
      );

    const upload = async (s: Login, name: string, bytes: Uint8Array): Promise<string> => {
      const form = new FormData();
      form.append('channel_id', t.channelId);
      form.append('files', new Blob([bytes as BlobPart]), name);
      const res = await fetch(`${t.url}/api/v4/files`, {
        method: 'POST',
        headers: { Cookie: s.cookie, 'X-CSRF-Token': s.csrf },
        body: form,
      });
      expect(res.status).toBe(201);
      return ((await res.json()) as { file_infos: { id: string }[] }).file_infos[0]!.id;
    };

    it('login: three cookies of 180 days, MMAUTHTOKEN HttpOnly, no SameSite, no Secure', async () => {
      const s = await alice();
      expect(s.setCookies.map((c) => c.slice(0, c.indexOf('=')))).toEqual([
        'MMAUTHTOKEN',
        'MMUSERID',
        'MMCSRF',
      ]);
      for (const c of s.setCookies) expect(c).toMatch(COOKIE_SHAPE);
      expect(s.setCookies[0]).toMatch(/; HttpOnly$/);
      expect(s.setCookies.slice(1).join()).not.toMatch(/HttpOnly/);
    });

    it('CSRF, strict: a cookie write needs X-CSRF-Token; a refusal is 401 and expires MMAUTHTOKEN', async () => {
      await t.setStrictCsrf(true);
      const s = await alice();
      const attempts: Record<string, string>[] = [
        {},
        { 'X-CSRF-Token': 'nope' },
        { 'X-Requested-With': 'XMLHttpRequest' },
        { 'X-CSRF-Token': 'nope', 'X-Requested-With': 'XMLHttpRequest' },
      ];
      for (const headers of attempts) {
        const res = await post(s, headers);
        expect(res.status, JSON.stringify(headers)).toBe(401);
        expect(res.headers['set-cookie']).toEqual([EXPIRED_TOKEN]);
      }
      // The session itself survives a refused write.
      expect((await raw('GET', '/api/v4/users/me', { Cookie: s.cookie })).status).toBe(200);
      expect((await post(s, { 'X-CSRF-Token': s.csrf })).status).toBe(201);
      const bearer = await raw(
        'POST',
        '/api/v4/posts',
        { Authorization: `BEARER ${s.token}`, 'Content-Type': 'application/json' },
        JSON.stringify({ channel_id: t.channelId, message: 'bearer' }),
      );
      expect(bearer.status).toBe(201);
    });

    it("CSRF, Mattermost's default: X-Requested-With: XMLHttpRequest alone lets a cookie write through", async () => {
      await t.setStrictCsrf(false);
      try {
        const s = await alice();
        expect((await post(s, {})).status).toBe(401);
        expect((await post(s, { 'X-CSRF-Token': 'nope' })).status).toBe(401);
        expect((await post(s, { 'X-Requested-With': 'XMLHttpRequest' })).status).toBe(201);
        expect(
          (await post(s, { 'X-CSRF-Token': 'nope', 'X-Requested-With': 'XMLHttpRequest' })).status,
        ).toBe(201);
      } finally {
        await t.setStrictCsrf(true);
      }
    });

    it("websocket: Origin must be the Site URL's scheme and host; none passes, null fails", async () => {
      const s = await alice();
      const attempt = (headers: Record<string, string>) =>
        new Promise<number | 'open'>((ok, fail) => {
          const ws = new WebSocket(`${t.url.replace('http', 'ws')}/api/v4/websocket`, {
            headers: { Cookie: s.cookie, ...headers },
          });
          ws.on('unexpected-response', (_req, res) => {
            res.resume();
            ok(res.statusCode ?? 0);
          });
          ws.on('open', () => {
            ws.close();
            ok('open');
          });
          ws.on('error', fail);
        });
      const host = new URL(t.url).host;
      const cases: [Record<string, string>, number | 'open'][] = [
        [{ Origin: AGREEMENT_SITE_URL }, 'open'],
        [{ Origin: `${AGREEMENT_SITE_URL}/` }, 'open'],
        [{ Origin: 'HTTP://CHAT.zt-demo.test' }, 'open'],
        [{}, 'open'],
        [{ Origin: 'http://chat.zt-demo.test:80' }, 403],
        [{ Origin: 'https://chat.zt-demo.test' }, 403],
        [{ Origin: `http://${host}` }, 403],
        [{ Origin: 'http://chat.other.test', Host: 'chat.other.test' }, 403],
        [{ Origin: 'null' }, 403],
        [{ Origin: 'http://evil.test' }, 403],
      ];
      for (const [headers, expected] of cases) {
        expect(await attempt(headers), JSON.stringify(headers)).toBe(expected);
      }
    });

    it('logout expires MMAUTHTOKEN only and revokes the session', async () => {
      const s = await login('bob', 'bob-demo-pass');
      const out = await raw('POST', '/api/v4/users/logout', {
        Cookie: s.cookie,
        'X-CSRF-Token': s.csrf,
      });
      expect(out.status).toBe(200);
      expect(out.headers['set-cookie']).toEqual([EXPIRED_TOKEN]);
      expect((await raw('GET', '/api/v4/users/me', { Cookie: s.cookie })).status).toBe(401);
      const anonymous = await raw('POST', '/api/v4/users/logout');
      expect(anonymous.status).toBe(200);
      expect(anonymous.headers['set-cookie']).toEqual([EXPIRED_TOKEN]);
    });

    it('pages carry the CSP header with its space, and X-Frame-Options SAMEORIGIN', async () => {
      for (const path of ['/', '/login', '/demo/channels/town-square']) {
        const res = await raw('GET', path);
        expect(res.status, path).toBe(200);
        expect(res.headers['content-type']).toBe('text/html');
        expect(res.headers['content-security-policy']).toBe(
          "frame-ancestors 'self' ; script-src 'self'",
        );
        expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      }
    });

    it('thumbnails: width 120 if wider than tall, else height 100; image/jpeg; previews not upscaled', async () => {
      const s = await alice();
      const png = (w: number, h: number) => {
        const data = new Uint8Array(w * h * 4).map((_, i) => (i * 31) & 255);
        return new Uint8Array(encodePng({ width: w, height: h, data }));
      };
      const size = (b: Buffer) => [b.readUInt32BE(16), b.readUInt32BE(20)];
      for (const [w, h, thumb, preview] of [
        [800, 600, [120, 90], [800, 600]],
        [60, 40, [120, 80], [60, 40]],
        [130, 120, [120, 111], [130, 120]],
        [300, 800, [38, 100], [300, 800]],
        [2400, 1000, [120, 50], [1920, 800]],
      ] as const) {
        const id = await upload(s, `p${w}x${h}.png`, png(w, h));
        const th = await raw('GET', `/api/v4/files/${id}/thumbnail`, { Cookie: s.cookie });
        expect(th.headers['content-type']).toBe('image/jpeg');
        expect(size(th.body), `${w}x${h}`).toEqual(thumb);
        const pv = await raw('GET', `/api/v4/files/${id}/preview`, { Cookie: s.cookie });
        expect(pv.headers['content-type']).toBe('image/jpeg');
        expect(size(pv.body), `${w}x${h}`).toEqual(preview);
      }
    });

    it('downloads: whole files gzipped when accepted, ranges plain (206/416), If-Range by date, no ETag', async () => {
      const s = await alice();
      const bytes = new Uint8Array(300_000);
      let x = 0x1234567;
      for (let i = 0; i < bytes.length; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        bytes[i] = x & 255;
      }
      const id = await upload(s, 'noise.bin', bytes);
      const path = `/api/v4/files/${id}?download=1`;
      const gz = await raw('GET', path, { Cookie: s.cookie, 'Accept-Encoding': 'gzip' });
      expect(gz.status).toBe(200);
      expect(gz.headers['content-encoding']).toBe('gzip');
      expect(gz.headers['accept-ranges']).toBeUndefined();
      expect(gz.headers['content-length']).toBeUndefined();
      expect(gz.headers['x-uncompressed-content-length']).toBe('300000');
      expect(gz.headers.etag).toBeUndefined();
      expect(gz.headers['cache-control']).toBe('private, max-age=86400');
      expect(gz.headers['content-disposition']).toMatch(/^attachment;filename="noise.bin"/);
      expect(new Uint8Array(gunzipSync(gz.body))).toEqual(bytes);
      // What a download that lost its connection goes on with (sw/tunnel/resumable.ts): the plain
      // bytes from the decoded count, if the file is still the one the gzipped answer dated.
      const modified = String(gz.headers['last-modified']);
      expect(Date.parse(modified)).toBeLessThanOrEqual(Date.parse(String(gz.headers.date)));
      const rest = await raw('GET', path, {
        Cookie: s.cookie,
        'Accept-Encoding': 'identity',
        Range: 'bytes=123457-',
        'If-Range': modified,
      });
      expect(rest.status).toBe(206);
      expect(rest.headers['content-encoding']).toBeUndefined();
      expect(rest.headers['content-range']).toBe('bytes 123457-299999/300000');
      expect(new Uint8Array(rest.body)).toEqual(bytes.slice(123_457));
      // It asks in ranges (16 MiB there): a range ends where asked, or at the end of the file.
      for (const [range, contentRange, from, to] of [
        ['bytes=123457-200000', 'bytes 123457-200000/300000', 123_457, 200_001],
        ['bytes=200001-16977216', 'bytes 200001-299999/300000', 200_001, 300_000],
      ] as const) {
        const next = await raw('GET', path, {
          Cookie: s.cookie,
          'Accept-Encoding': 'identity',
          Range: range,
          'If-Range': modified,
        });
        expect([next.status, next.headers['content-range']]).toEqual([206, contentRange]);
        expect(new Uint8Array(next.body)).toEqual(bytes.slice(from, to));
      }
      const otherDate = new Date(Date.parse(modified) - 1000).toUTCString();
      const stale = await raw('GET', path, {
        Cookie: s.cookie,
        'Accept-Encoding': 'identity',
        Range: 'bytes=123457-',
        'If-Range': otherDate,
      });
      expect(stale.status).toBe(200);
      expect(stale.headers['content-encoding']).toBeUndefined();
      expect(new Uint8Array(stale.body)).toEqual(bytes);
      const plain = await raw('GET', path, { Cookie: s.cookie });
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.headers['accept-ranges']).toBe('bytes');
      expect(plain.headers['content-length']).toBe('300000');
      const part = await raw('GET', path, {
        Cookie: s.cookie,
        'Accept-Encoding': 'gzip',
        Range: 'bytes=100000-',
      });
      expect(part.status).toBe(206);
      expect(part.headers['content-encoding']).toBeUndefined();
      expect(part.headers['content-range']).toBe('bytes 100000-299999/300000');
      expect(new Uint8Array(part.body)).toEqual(bytes.slice(100_000));
      const beyond = await raw('GET', path, {
        Cookie: s.cookie,
        'Accept-Encoding': 'gzip',
        Range: 'bytes=900000-',
      });
      expect(beyond.status).toBe(416);
      expect(beyond.headers['content-range']).toBe('bytes */300000');
      // Without an ETag, If-Range with an entity tag never matches: the whole file.
      const tagged = await raw('GET', path, {
        Cookie: s.cookie,
        Range: 'bytes=0-9',
        'If-Range': '"some-tag"',
      });
      expect(tagged.status).toBe(200);
      expect(tagged.body.length).toBe(300_000);
      // JPEG is left alone; small bodies too.
      const jpeg = await raw(
        'GET',
        `/api/v4/files/${await upload(s, 'x.jpg', bytes.slice(0, 5000))}`,
        {
          Cookie: s.cookie,
          'Accept-Encoding': 'gzip',
        },
      );
      expect(jpeg.headers['content-encoding']).toBeUndefined();
      const small = await raw(
        'GET',
        `/api/v4/files/${await upload(s, 'small.bin', bytes.slice(0, 1023))}`,
        { Cookie: s.cookie, 'Accept-Encoding': 'gzip' },
      );
      expect(small.headers['content-encoding']).toBeUndefined();
    });

    it('raw-body uploads: any type but a urlencoded form, which Go reads as a form first', async () => {
      const s = await alice();
      const rawUpload = (type: string, body: Buffer) =>
        raw(
          'POST',
          `/api/v4/files?channel_id=${t.channelId}&filename=raw.bin`,
          { Cookie: s.cookie, 'X-CSRF-Token': s.csrf, 'Content-Type': type },
          body,
        );
      const sizeOf = (a: Answer) =>
        (JSON.parse(a.body.toString()) as { file_infos: { size: number }[] }).file_infos[0]!.size;
      const octets = await rawUpload('application/octet-stream', Buffer.from('raw bytes'));
      expect(octets.status).toBe(201);
      expect(sizeOf(octets)).toBe(9);
      const form = await rawUpload('application/x-www-form-urlencoded', Buffer.from('a=1&b=2'));
      expect(form.status).toBe(201);
      expect(sizeOf(form)).toBe(0);
      const notForm = await rawUpload('application/x-www-form-urlencoded', Buffer.from('100%'));
      expect(notForm.status).toBe(400);
    });

    it('plugins off: GET /api/v4/plugins/webapp is 501; HEAD on the API is 404', async () => {
      const plugins = await raw('GET', '/api/v4/plugins/webapp');
      expect(plugins.status).toBe(501);
      expect(JSON.parse(plugins.body.toString())).toMatchObject({
        id: 'app.plugin.disabled.app_error',
        status_code: 501,
      });
      expect((await raw('HEAD', '/api/v4/system/ping')).status).toBe(404);
    });
  });
}
