import { describe, expect, it } from 'vitest';
import type { UploadProgressMessage } from '../shared/page-worker/messages.ts';
import { UPLOAD_ID_HEADER, UPLOAD_PROGRESS_CHANNEL } from '../shared/page-worker/names.ts';
import { trackUpload } from './upload-progress.ts';

describe('trackUpload', () => {
  it('ignores untagged requests and strips the tag', () => {
    expect(trackUpload(new Headers({ 'content-type': 'x' }))).toBeNull();
    const r = trackUpload(new Headers({ [UPLOAD_ID_HEADER]: 'abc-1', 'content-type': 'x' }), {
      post: () => {},
    });
    expect(r?.id).toBe('abc-1');
    expect(r?.headers.has(UPLOAD_ID_HEADER)).toBe(false);
    expect(r?.headers.get('content-type')).toBe('x');
    expect(trackUpload(new Headers({ [UPLOAD_ID_HEADER]: 'bad id!' }))).toBeNull();
  });

  it('throttles reports and always sends the final one', () => {
    const sent: UploadProgressMessage[] = [];
    let t = 0;
    const r = trackUpload(new Headers({ [UPLOAD_ID_HEADER]: 'u1' }), {
      total: 1000,
      intervalMs: 50,
      post: (m) => sent.push(m),
      now: () => t,
    });
    for (let b = 100; b <= 1000; b += 100) {
      r?.onUploadProgress(b);
      t += 20;
    }
    r?.finish();
    r?.finish();
    r?.onUploadProgress(5);
    expect(sent.map((m) => m.loaded)).toEqual([100, 400, 700, 1000, 1000]);
    expect(sent.at(-1)).toEqual({ id: 'u1', loaded: 1000, total: 1000, done: true });
    expect(sent.slice(0, -1).every((m) => !m.done && m.total === 1000)).toBe(true);
  });

  it('reports a failed upload, and broadcasts by default', async () => {
    const listener = new BroadcastChannel(UPLOAD_PROGRESS_CHANNEL);
    const msgs: UploadProgressMessage[] = [];
    const got = new Promise<UploadProgressMessage[]>((res) => {
      listener.onmessage = (e) => {
        msgs.push(e.data as UploadProgressMessage);
        if (msgs.length === 2) res(msgs);
      };
    });
    const r = trackUpload(new Headers({ [UPLOAD_ID_HEADER]: 'u2' }));
    r?.onUploadProgress(10);
    r?.finish(true);
    expect(await got).toEqual([
      { id: 'u2', loaded: 10, total: -1, done: false },
      { id: 'u2', loaded: 10, total: 10, done: false, failed: true },
    ]);
    listener.close();
  });
});
