import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  browserHeaders,
  firstChannelId,
  type Harness,
  type Login,
  login,
  startTestApp,
} from './_test/harness.ts';
import { decodePng, encodePng, pngSize } from './png.ts';

let h: Harness;
let base: string;
let alice: Login;
let channelId: string;

beforeAll(async () => {
  h = await startTestApp();
  base = h.app.url;
  alice = await login(base);
  channelId = await firstChannelId(base, alice);
});
afterAll(() => h.close());

async function upload(
  name: string,
  bytes: Uint8Array<ArrayBuffer>,
  type = 'application/octet-stream',
  s = alice,
) {
  const form = new FormData();
  form.append('channel_id', channelId);
  form.append('client_ids', 'client-1');
  form.append('files', new Blob([bytes], { type }), name);
  return fetch(`${base}/api/v4/files`, { method: 'POST', headers: browserHeaders(s), body: form });
}

interface Info {
  id: string;
  size: number;
  width: number;
  height: number;
  has_preview_image: boolean;
  mime_type: string;
}

function gradient(width: number, height: number) {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    data[i * 4] = i % 256;
    data[i * 4 + 1] = (i >> 8) % 256;
    data[i * 4 + 2] = 128;
    data[i * 4 + 3] = 255;
  }
  return encodePng({ width, height, data });
}

describe('files', () => {
  it('streams a 256 MiB multipart upload to disk with bounded memory', async () => {
    const total = 256 * 1024 * 1024;
    const chunk = 256 * 1024;
    const boundary = 'demoBoundary7MA4YWxkTrZu0gW';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="channel_id"\r\n\r\n${channelId}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="client_ids"\r\n\r\nbig\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.bin"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const sent = createHash('sha256');
    async function* body() {
      yield head;
      for (let off = 0; off < total; off += chunk) {
        const b = Buffer.alloc(chunk, (off / chunk) % 251);
        b.writeUInt32BE(off, 0);
        sent.update(b);
        yield b;
      }
      yield tail;
    }
    const baseline = process.memoryUsage();
    let peakBuffers = 0;
    let peakRss = 0;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakBuffers = Math.max(peakBuffers, m.arrayBuffers - baseline.arrayBuffers);
      peakRss = Math.max(peakRss, m.rss - baseline.rss);
    }, 10);
    const { status, json } = await new Promise<{ status: number; json: { file_infos: Info[] } }>(
      (resolve, reject) => {
        const req = request(
          `${base}/api/v4/files`,
          {
            method: 'POST',
            headers: {
              ...browserHeaders(alice),
              'Content-Type': `multipart/form-data; boundary=${boundary}`,
              'Content-Length': head.length + total + tail.length,
            },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d) => {
              text += d;
            });
            res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
          },
        );
        req.on('error', reject);
        pipeline(Readable.from(body()), req).catch(reject);
      },
    );
    clearInterval(sampler);
    expect(status).toBe(201);
    const info = json.file_infos[0]!;
    expect(info.size).toBe(total);
    // Far less than the body: nothing held it whole.
    expect(peakBuffers).toBeLessThan(96 * 1024 * 1024);
    expect(peakRss).toBeLessThan(160 * 1024 * 1024);
    const stored = createHash('sha256');
    for await (const b of createReadStream(join(h.dataDir, 'files', info.id, 'data')))
      stored.update(b);
    expect(stored.digest('hex')).toBe(sent.digest('hex'));
  }, 60_000);

  it('cleans up when the client drops an upload halfway', async () => {
    const boundary = 'abortBoundary';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="channel_id"\r\n\r\n${channelId}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="half.bin"\r\n\r\n`,
    );
    const req = request(`${base}/api/v4/files`, {
      method: 'POST',
      headers: {
        ...browserHeaders(alice),
        'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Content-Length': head.length + 64 * 1024 * 1024,
      },
    });
    req.on('error', () => {});
    req.write(head);
    req.write(Buffer.alloc(4 * 1024 * 1024, 1));
    const dir = join(h.dataDir, 'files');
    const before = new Set(await readdir(dir).catch(() => [] as string[]));
    await expect
      .poll(async () => (await readdir(dir).catch(() => [] as string[])).length)
      .toBeGreaterThan(before.size);
    req.destroy();
    // The partial file goes away and the server keeps answering.
    await expect
      .poll(async () => (await readdir(dir)).filter((d) => !before.has(d)).length, {
        timeout: 5000,
      })
      .toBe(0);
    expect((await fetch(`${base}/api/v4/system/ping`)).status).toBe(200);
  });

  it('serves Range requests with 206, suffix ranges, 416 and If-Range', async () => {
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 7) % 256);
    const res = await upload('data.bin', bytes);
    expect(res.status).toBe(201);
    const { file_infos, client_ids } = (await res.json()) as {
      file_infos: Info[];
      client_ids: string[];
    };
    expect(client_ids).toEqual(['client-1']);
    const url = `${base}/api/v4/files/${file_infos[0]!.id}`;
    const full = await fetch(url, {
      headers: browserHeaders(alice, { 'Accept-Encoding': 'identity' }),
    });
    expect(full.status).toBe(200);
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect(full.headers.get('content-length')).toBe('100000');
    expect(full.headers.get('content-disposition')).toMatch(/^attachment;filename="data.bin"/);
    expect(full.headers.get('x-content-type-options')).toBe('nosniff');
    expect(new Uint8Array(await full.arrayBuffer())).toEqual(bytes);
    const part = await fetch(url, { headers: browserHeaders(alice, { Range: 'bytes=1000-1999' }) });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 1000-1999/100000');
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.slice(1000, 2000));
    const open = await fetch(url, { headers: browserHeaders(alice, { Range: 'bytes=99990-' }) });
    expect(new Uint8Array(await open.arrayBuffer())).toEqual(bytes.slice(99990));
    const suffix = await fetch(url, { headers: browserHeaders(alice, { Range: 'bytes=-10' }) });
    expect(suffix.headers.get('content-range')).toBe('bytes 99990-99999/100000');
    const bad = await fetch(url, { headers: browserHeaders(alice, { Range: 'bytes=200000-' }) });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe('bytes */100000');
    const lm = full.headers.get('last-modified')!;
    const same = await fetch(url, {
      headers: browserHeaders(alice, { Range: 'bytes=0-9', 'If-Range': lm }),
    });
    expect(same.status).toBe(206);
    const stale = await fetch(url, {
      headers: browserHeaders(alice, {
        Range: 'bytes=0-9',
        'If-Range': 'Mon, 01 Jan 2001 00:00:00 GMT',
      }),
    });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();
    expect((await fetch(url)).status).toBe(401);
  });

  it('makes Mattermost-sized thumbnails and previews for PNG images', async () => {
    const cases: [number, number, number, number, number, number][] = [
      // source w,h -> thumbnail w,h -> preview w,h
      [800, 600, 120, 90, 800, 600],
      [600, 800, 75, 100, 600, 800],
      [100, 50, 120, 60, 100, 50],
      [130, 120, 120, 111, 130, 120],
      [4000, 1000, 120, 30, 1920, 480],
    ];
    for (const [w, hgt, tw, th, pw, ph] of cases) {
      const res = await upload(
        `img-${w}x${hgt}.png`,
        new Uint8Array(gradient(w, hgt)),
        'image/png',
      );
      const info = ((await res.json()) as { file_infos: Info[] }).file_infos[0]!;
      expect(info).toMatchObject({
        width: w,
        height: hgt,
        has_preview_image: true,
        mime_type: 'image/png',
      });
      const thumb = await fetch(`${base}/api/v4/files/${info.id}/thumbnail`, {
        headers: browserHeaders(alice),
      });
      // PNG bytes under Mattermost's image/jpeg.
      expect(thumb.headers.get('content-type')).toBe('image/jpeg');
      expect(pngSize(new Uint8Array(await thumb.arrayBuffer()))).toEqual({ width: tw, height: th });
      const preview = await fetch(`${base}/api/v4/files/${info.id}/preview`, {
        headers: browserHeaders(alice),
      });
      expect(pngSize(new Uint8Array(await preview.arrayBuffer()))).toEqual({
        width: pw,
        height: ph,
      });
    }
    // A non-image has no thumbnail.
    const res = await upload('notes.txt', new TextEncoder().encode('hi'), 'text/plain');
    const info = ((await res.json()) as { file_infos: Info[] }).file_infos[0]!;
    expect(info.has_preview_image).toBe(false);
    const none = await fetch(`${base}/api/v4/files/${info.id}/thumbnail`, {
      headers: browserHeaders(alice),
    });
    expect(none.status).toBe(400);
  });

  it('decodes an independently made PNG (1x1 half-transparent red, a public sample)', () => {
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
      'base64',
    );
    const img = decodePng(png);
    expect(img.width).toBe(1);
    expect(img.height).toBe(1);
    // Its one pixel is red at half opacity (raw scanline 01 ff 00 00 7f, checked with Python's zlib).
    expect([...img.data]).toEqual([255, 0, 0, 127]);
  });

  it('refuses uploads without CSRF, without session, and above the size limit', async () => {
    const bytes = new Uint8Array(10);
    const form = new FormData();
    form.append('channel_id', channelId);
    form.append('files', new Blob([bytes]), 'x.bin');
    const noCsrf = await fetch(`${base}/api/v4/files`, {
      method: 'POST',
      headers: { Cookie: alice.cookie, 'X-Requested-With': 'XMLHttpRequest' },
      body: form,
    });
    expect(noCsrf.status).toBe(401);
    const anon = await fetch(`${base}/api/v4/files`, { method: 'POST', body: form });
    expect(anon.status).toBe(401);
    const small = await startTestApp({ maxFileBytes: 1000 });
    try {
      const s = await login(small.app.url);
      const ch = await firstChannelId(small.app.url, s);
      const big = new FormData();
      big.append('channel_id', ch);
      big.append('files', new Blob([new Uint8Array(5000)]), 'big.bin');
      const res = await fetch(`${small.app.url}/api/v4/files`, {
        method: 'POST',
        headers: browserHeaders(s),
        body: big,
      });
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({
        id: 'api.file.upload_file.too_large_detailed.app_error',
      });
    } finally {
      await small.close();
    }
  });

  it('serves a 128x128 PNG profile image to a session', async () => {
    const res = await fetch(`${base}/api/v4/users/${alice.userId}/image`, {
      headers: browserHeaders(alice),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const img = decodePng(new Uint8Array(await res.arrayBuffer()));
    expect([img.width, img.height]).toEqual([128, 128]);
    expect((await fetch(`${base}/api/v4/users/${alice.userId}/image`)).status).toBe(401);
  });
});
