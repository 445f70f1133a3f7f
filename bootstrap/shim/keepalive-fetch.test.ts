import { describe, expect, it } from 'vitest';
import {
  isKeepAliveFetchMessage,
  type KeepAliveFetchAnswer,
  type KeepAliveFetchMessage,
} from '../../shared/page-worker/messages.ts';
import { installKeepaliveFetch } from './keepalive-fetch.ts';

type Posted = { message: KeepAliveFetchMessage; port: MessagePort };

function setup(opts: { worker?: boolean; answer?: KeepAliveFetchAnswer } = {}) {
  const native: { input: unknown; init: RequestInit | undefined }[] = [];
  const posted: Posted[] = [];
  const worker = {
    postMessage(message: KeepAliveFetchMessage, transfer: Transferable[]) {
      const port = transfer[0] as MessagePort;
      posted.push({ message, port });
      if (opts.answer) port.postMessage(opts.answer);
    },
  };
  const win = {
    fetch: async (input: unknown, init?: RequestInit) => {
      native.push({ input, init });
      return new Response('native');
    },
    Request,
    Response,
    MessageChannel,
    DOMException,
    location: { href: 'https://app.test/page' },
    document: { baseURI: 'https://app.test/page' },
  } as unknown as Window & typeof globalThis;
  const errors: string[] = [];
  const error = console.error;
  console.error = (m: string) => errors.push(m);
  installKeepaliveFetch(win, {
    shouldTunnel: (u) => u.host === 'app.test' || u.host === 'dark.corp',
    controller: () => (opts.worker === false ? null : (worker as unknown as ServiceWorker)),
  });
  const restore = () => {
    console.error = error;
    for (const p of posted) p.port.close();
  };
  return { win, native, posted, errors, restore };
}

const ok: KeepAliveFetchAnswer = {
  ok: true,
  status: 201,
  statusText: 'Created',
  headers: [['x-app', 'yes']],
  body: new TextEncoder().encode('done').buffer as ArrayBuffer,
};

describe('keepalive fetch', () => {
  it('hands a keepalive fetch to a tunnelled URL to the worker, at once, and resolves with its answer', async () => {
    const { win, native, posted, restore } = setup({ answer: ok });
    try {
      const pending = win.fetch('/keepalive?via=click', {
        method: 'POST',
        keepalive: true,
        body: 'keepalive-from-click',
      });
      // Posted synchronously: a page sending on pagehide may be gone before a promise settles.
      expect(posted).toHaveLength(1);
      const { message } = posted[0]!;
      expect(isKeepAliveFetchMessage(message)).toBe(true);
      expect(message).toMatchObject({
        url: 'https://app.test/keepalive?via=click',
        method: 'POST',
        credentials: 'same-origin',
        referrer: 'https://app.test/page',
      });
      expect(new TextDecoder().decode(message.body!)).toBe('keepalive-from-click');
      expect(message.headers).toContainEqual(['content-type', 'text/plain;charset=UTF-8']);
      const response = await pending;
      expect(response.status).toBe(201);
      expect(response.headers.get('x-app')).toBe('yes');
      expect(await response.text()).toBe('done');
      expect(native).toEqual([]);
    } finally {
      restore();
    }
  });

  it('reads a Blob body before handing it over', async () => {
    const { win, posted, restore } = setup({ answer: ok });
    try {
      await win.fetch('https://dark.corp/log', {
        method: 'POST',
        keepalive: true,
        body: new Blob(['bytes'], { type: 'application/x-thing' }),
      });
      expect(new TextDecoder().decode(posted[0]!.message.body!)).toBe('bytes');
      expect(posted[0]!.message.headers).toContainEqual(['content-type', 'application/x-thing']);
    } finally {
      restore();
    }
  });

  it('leaves fetches without keepalive, and keepalive fetches the worker does not tunnel, to the browser', async () => {
    const { win, native, posted, restore } = setup({ answer: ok });
    try {
      await win.fetch('/api', { method: 'POST', body: 'x' });
      await win.fetch('https://open.example/log', { method: 'POST', keepalive: true, body: 'x' });
      expect(native.map((n) => String(n.input))).toEqual(['/api', 'https://open.example/log']);
      expect(posted).toEqual([]);
    } finally {
      restore();
    }
  });

  it('refuses a body over 64 KiB with a TypeError, as the browser does, and sends nothing', async () => {
    const { win, native, posted, restore } = setup({ answer: ok });
    try {
      await expect(
        win.fetch('/big', { method: 'POST', keepalive: true, body: new Uint8Array(64 * 1024 + 1) }),
      ).rejects.toThrow(TypeError);
      expect(posted).toEqual([]);
      expect(native).toEqual([]);
    } finally {
      restore();
    }
  });

  it('fails closed with a TypeError when no worker controls the page or the worker refuses', async () => {
    const none = setup({ worker: false });
    try {
      await expect(
        none.win.fetch('/k', { method: 'POST', keepalive: true, body: 'x' }),
      ).rejects.toThrow(TypeError);
      expect(none.native).toEqual([]);
      expect(none.errors.join('\n')).toContain('https://app.test/k');
    } finally {
      none.restore();
    }
    const refused = setup({ answer: { ok: false, error: 'not a URL the worker tunnels' } });
    try {
      await expect(
        refused.win.fetch('/k', { method: 'POST', keepalive: true, body: 'x' }),
      ).rejects.toThrow(/not a URL the worker tunnels/);
      expect(refused.native).toEqual([]);
    } finally {
      refused.restore();
    }
  });
});
