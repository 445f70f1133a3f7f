import { describe, expect, it } from 'vitest';
import {
  BLANK_FRAME_CSP,
  delegateGlobals,
  installChildFrames,
  restrictDocument,
} from './child-frames.ts';

type Win = Window & typeof globalThis;

/** A document: events, a head to put the policy in, and the elements put there. */
class FakeDocument extends EventTarget {
  baseURI = 'https://app.test/x/page';
  inHead: { httpEquiv: string; content: string }[] = [];
  head = { prepend: (el: { httpEquiv: string; content: string }) => this.inHead.push(el) };
  documentElement = this.head;
  createElement() {
    return { httpEquiv: '', content: '' };
  }
}

/** Records who constructed it with what. */
function recorder(realm: string, log: string[]) {
  return class {
    static readonly DONE = 4;
    args: unknown[];
    constructor(...args: unknown[]) {
      this.args = args;
      log.push(`${realm} ${args.join(' ')}`.trim());
    }
  };
}

function makeWindow(realm: string, opts: { controlled?: boolean; crossOrigin?: boolean } = {}) {
  const log: string[] = [];
  let cookie = `${realm}=1`;
  class Document extends FakeDocument {
    get cookie() {
      return cookie;
    }
    set cookie(v: string) {
      cookie = v;
      log.push(`${realm} cookie ${v}`);
    }
  }
  const doc = new Document();
  const win: Record<string, unknown> = {
    log,
    fetch: (input: unknown) => {
      log.push(`${realm} fetch ${String(input)}`);
      return Promise.resolve(realm);
    },
    XMLHttpRequest: recorder(`${realm} XMLHttpRequest`, log),
    WebSocket: recorder(`${realm} WebSocket`, log),
    EventSource: recorder(`${realm} EventSource`, log),
    Worker: recorder(`${realm} Worker`, log),
    SharedWorker: recorder(`${realm} SharedWorker`, log),
    navigator: {
      sendBeacon: (url: string) => log.push(`${realm} beacon ${url}`) > 0,
      serviceWorker: { controller: opts.controlled ? {} : null },
    },
    Document,
    URL,
    TypeError,
  };
  Object.defineProperty(win, 'document', {
    get() {
      if (opts.crossOrigin) throw new DOMException('Blocked a frame', 'SecurityError');
      return doc;
    },
  });
  return { win: win as unknown as Win & { log: string[] }, doc, log };
}

describe('delegateGlobals', () => {
  it("makes the child's fetch, XHR, WebSocket, EventSource, workers, beacons and cookies the parent's", async () => {
    const parent = makeWindow('parent');
    const child = makeWindow('child');
    parent.win.document.cookie = 'parent=1';
    parent.log.length = 0;
    delegateGlobals(child.win, parent.win);
    const c = child.win as unknown as Record<string, new (...a: unknown[]) => object>;

    await expect(child.win.fetch('/api/x')).resolves.toBe('parent');
    new c.XMLHttpRequest!();
    new c.WebSocket!('/ws-echo', ['p']);
    new c.EventSource!('events');
    new c.Worker!('/w.js');
    new c.SharedWorker!('/s.js');
    child.win.navigator.sendBeacon('/beacon', 'x');
    expect(child.win.document.cookie).toBe('parent=1');
    child.win.document.cookie = 'a=b';

    expect(parent.log).toEqual([
      'parent fetch https://app.test/api/x',
      'parent XMLHttpRequest',
      'parent WebSocket https://app.test/ws-echo p',
      'parent EventSource https://app.test/x/events',
      'parent Worker https://app.test/w.js',
      'parent SharedWorker https://app.test/s.js',
      'parent beacon https://app.test/beacon',
      'parent cookie a=b',
    ]);
    expect(child.log).toEqual([]);
    expect((c.XMLHttpRequest as unknown as { DONE: number }).DONE).toBe(4);
    expect(() => (c.WebSocket as unknown as () => void)()).toThrow(TypeError);
  });

  it("hands over to the child's own once the real shim runs there (an app page reusing the window)", async () => {
    const parent = makeWindow('parent');
    const child = makeWindow('child');
    delegateGlobals(child.win, parent.win);
    Object.defineProperty(child.win, '__ztShim', { value: true });
    const c = child.win as unknown as Record<string, new (...a: unknown[]) => object>;
    await expect(child.win.fetch('/api/x')).resolves.toBe('child');
    new c.WebSocket!('/ws-echo');
    child.win.navigator.sendBeacon('/b');
    expect(child.win.document.cookie).toBe('child=1');
    expect(child.log).toEqual([
      'child fetch /api/x',
      'child WebSocket /ws-echo',
      'child beacon /b',
    ]);
  });
});

describe('restrictDocument', () => {
  it('adds a policy that loads nothing from the network, and reports its blocks once per URL', () => {
    const doc = new FakeDocument();
    const reports: string[] = [];
    restrictDocument(doc as unknown as Document, (m) => reports.push(m));
    expect(doc.inHead).toEqual([
      { httpEquiv: 'Content-Security-Policy', content: BLANK_FRAME_CSP },
    ]);
    expect(BLANK_FRAME_CSP).not.toMatch(/default-src[^;]*('self'|https?:|\*)/);
    const violation = (blockedURI: string, originalPolicy: string) =>
      doc.dispatchEvent(
        Object.assign(new Event('securitypolicyviolation'), { blockedURI, originalPolicy }),
      );
    violation('http://sibling.dark.test/a.png', BLANK_FRAME_CSP);
    violation('http://sibling.dark.test/a.png', BLANK_FRAME_CSP);
    violation('https://app.test/b.css', BLANK_FRAME_CSP);
    violation('https://cdn.example/c.js', "script-src 'self'"); // the app's own policy
    expect(reports).toEqual([
      expect.stringMatching(
        /^\[zt\] http:\/\/sibling\.dark\.test\/a\.png requested from an about:blank frame cannot go through the zero-trust tunnel in this browser \(.+\); it was blocked$/,
      ),
      expect.stringContaining('https://app.test/b.css'),
    ]);
  });
});

describe('installChildFrames', () => {
  function parentWithFrames() {
    const parent = makeWindow('parent');
    let observer: ((records: { addedNodes: unknown[] }[]) => void) | undefined;
    class HTMLIFrameElement {
      nodeType = 1;
      localName = 'iframe';
      isConnected = true;
      constructor(public w: unknown) {}
      get contentWindow() {
        return this.w;
      }
      get contentDocument() {
        return (this.w as { document: unknown }).document;
      }
    }
    const opened: unknown[] = [];
    class Node {
      appendChild(n: unknown) {
        return n;
      }
    }
    Object.assign(parent.win, {
      HTMLIFrameElement,
      Node,
      MutationObserver: class {
        constructor(cb: typeof observer) {
          observer = cb;
        }
        observe() {}
      },
      open: () => opened.shift() ?? null,
    });
    const reports: string[] = [];
    installChildFrames(parent.win, { report: (m) => reports.push(m) });
    return {
      parent,
      reports,
      opened,
      frame: (w: unknown) => new HTMLIFrameElement(w),
      insert: (node: unknown) => observer?.([{ addedNodes: [node] }]),
      appendChild: (node: unknown) => new Node().appendChild(node),
    };
  }

  it('adopts an uncontrolled blank frame on contentWindow: delegated globals and the policy', async () => {
    const { parent, frame } = parentWithFrames();
    const child = makeWindow('child');
    const w = frame(child.win).contentWindow as Win;
    await w.fetch('/api/in-frame');
    expect(parent.log).toEqual(['parent fetch https://app.test/api/in-frame']);
    expect(child.doc.inHead.map((m) => m.content)).toEqual([BLANK_FRAME_CSP]);
    // Adopting again changes nothing.
    void frame(child.win).contentDocument;
    expect(child.doc.inHead).toHaveLength(1);
  });

  it('a controlled child (srcdoc in Chromium, any blank frame in Firefox) gets the globals, no policy', async () => {
    const { parent, frame } = parentWithFrames();
    const child = makeWindow('child', { controlled: true });
    const doc = frame(child.win).contentDocument as unknown as FakeDocument;
    expect(doc.inHead).toEqual([]);
    new (child.win as unknown as { WebSocket: new (u: string) => object }).WebSocket('/ws-echo');
    expect(parent.log).toEqual(['parent WebSocket https://app.test/ws-echo']);
  });

  it('leaves other origins and pages with their own shim alone', () => {
    const { frame } = parentWithFrames();
    const other = makeWindow('other', { crossOrigin: true });
    const nativeFetch = other.win.fetch;
    expect(frame(other.win).contentWindow).toBe(other.win);
    expect(other.win.fetch).toBe(nativeFetch);
    const app = makeWindow('app');
    Object.defineProperty(app.win, '__ztShim', { value: true });
    const appFetch = app.win.fetch;
    void frame(app.win).contentWindow;
    expect(app.win.fetch).toBe(appFetch);
    expect(app.doc.inHead).toEqual([]);
  });

  it('adopts a frame in the same call that appends it, so window.frames[i] right after finds it done', async () => {
    const { parent, frame, appendChild } = parentWithFrames();
    const child = makeWindow('child');
    const f = frame(child.win);
    expect(appendChild(f)).toBe(f);
    await child.win.fetch('/now');
    expect(parent.log).toEqual(['parent fetch https://app.test/now']);
    expect(child.doc.inHead).toHaveLength(1);
  });

  it('adopts inserted frames and about:blank popups', async () => {
    const { parent, frame, insert, opened } = parentWithFrames();
    const inserted = makeWindow('inserted');
    insert(frame(inserted.win));
    await inserted.win.fetch('/a');
    const popup = makeWindow('popup');
    opened.push(popup.win);
    expect(parent.win.open('')).toBe(popup.win);
    await popup.win.fetch('/b');
    expect(parent.log).toEqual([
      'parent fetch https://app.test/a',
      'parent fetch https://app.test/b',
    ]);
    expect(popup.doc.inHead).toHaveLength(1);
  });

  it('never throws into the app', () => {
    const { frame } = parentWithFrames();
    const broken = {
      get document(): never {
        throw new Error('odd');
      },
    };
    expect(() => frame(broken).contentWindow).not.toThrow();
    expect(frame(null).contentWindow).toBeNull();
  });
});
