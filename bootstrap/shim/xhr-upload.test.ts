import { afterEach, describe, expect, it } from 'vitest';
import { UPLOAD_ID_HEADER, UPLOAD_PROGRESS_CHANNEL } from '../../shared/page-worker/names.ts';
import { installXhrUploadProgress } from './xhr-upload.ts';

class FakeProgressEvent extends Event {
  lengthComputable = false;
  loaded = 0;
  total = 0;
  constructor(type: string, init: { lengthComputable?: boolean; loaded?: number; total?: number }) {
    super(type);
    Object.assign(this, init);
  }
}
class FakeXhr extends EventTarget {
  readyState = 0;
  upload = new EventTarget();
  headers: [string, string][] = [];
  body: unknown;
  open(_method: string, _url: string) {
    this.readyState = 1;
  }
  setRequestHeader(n: string, v: string) {
    this.headers.push([n, v]);
  }
  send(body?: unknown) {
    this.body = body;
  }
  /** The response head, then the end, as the browser reports them. */
  respond() {
    for (const s of [2, 4]) {
      this.readyState = s;
      this.dispatchEvent(new Event('readystatechange'));
    }
    this.dispatchEvent(new Event('loadend'));
  }
}

const channels: BroadcastChannel[] = [];
afterEach(() => {
  for (const c of channels.splice(0)) c.close();
});

function setup() {
  class TrackedChannel extends BroadcastChannel {
    constructor(name: string) {
      super(name);
      channels.push(this);
    }
  }
  const win = {
    XMLHttpRequest: class extends FakeXhr {},
    ProgressEvent: FakeProgressEvent,
    BroadcastChannel: TrackedChannel,
    crypto,
    Blob,
    URLSearchParams,
    document: { baseURI: 'https://app.test/x/page' },
  } as unknown as Window & typeof globalThis;
  installXhrUploadProgress(win, { shouldTag: (u) => u.origin === 'https://app.test' });
  const sw = new BroadcastChannel(UPLOAD_PROGRESS_CHANNEL);
  channels.push(sw);
  const make = () => {
    const xhr = new win.XMLHttpRequest() as unknown as FakeXhr;
    const events: [string, number, number, boolean][] = [];
    // Called after send(): browsers run the shim's capturing guard before the app's listeners
    // at the target whenever they were added (DOM standard); Node's EventTarget keeps plain
    // registration order, so the test adds the app's listeners after the guard.
    const listen = () => {
      for (const t of ['progress', 'load', 'loadend']) {
        xhr.upload.addEventListener(t, (e) => {
          const p = e as FakeProgressEvent;
          events.push([t, p.loaded, p.total, p.lengthComputable]);
        });
      }
    };
    return { xhr, events, listen };
  };
  return { make, sw };
}

const tick = () => new Promise((r) => setTimeout(r, 20));

describe('installXhrUploadProgress', () => {
  it('tags only same-origin requests with a body', () => {
    const { make } = setup();
    const a = make().xhr;
    a.open('GET', '/api');
    a.send(null);
    const b = make().xhr;
    b.open('POST', 'https://elsewhere.test/up');
    b.send('x');
    const c = make().xhr;
    c.open('POST', 'upload');
    c.send('x');
    expect(a.headers).toEqual([]);
    expect(b.headers).toEqual([]);
    expect(c.headers).toHaveLength(1);
    expect(c.headers[0]?.[0]).toBe(UPLOAD_ID_HEADER);
    expect(c.body).toBe('x');
  });

  it('re-emits the SW’s reports as upload progress, then load and loadend', async () => {
    const { make, sw } = setup();
    const { xhr, events, listen } = make();
    xhr.open('POST', '/upload');
    xhr.send(new Uint8Array(1000));
    listen();
    const id = xhr.headers[0]?.[1] as string;
    // A native (browser) event for this upload is swallowed: only ours reach the app.
    xhr.upload.dispatchEvent(new FakeProgressEvent('progress', { loaded: 1 }));
    sw.postMessage({ id, loaded: 300, total: -1, done: false });
    sw.postMessage({ id: 'someone-else', loaded: 5, total: 5, done: true });
    sw.postMessage({ id, loaded: 700, total: -1, done: false });
    sw.postMessage({ id, loaded: 1000, total: 1000, done: true });
    await tick();
    xhr.respond();
    expect(events).toEqual([
      ['progress', 300, 1000, true],
      ['progress', 700, 1000, true],
      ['progress', 1000, 1000, true],
      ['load', 1000, 1000, true],
      ['loadend', 1000, 1000, true],
    ]);
  });

  it('completes the upload events when the response arrives without a final report', async () => {
    const { make, sw } = setup();
    const { xhr, events, listen } = make();
    xhr.open('PUT', '/upload');
    xhr.send('héllo');
    listen();
    sw.postMessage({ id: xhr.headers[0]?.[1], loaded: 2, total: -1, done: false });
    await tick();
    xhr.respond();
    expect(events).toEqual([
      ['progress', 2, 6, true],
      ['progress', 6, 6, true],
      ['load', 6, 6, true],
      ['loadend', 6, 6, true],
    ]);
  });
});
