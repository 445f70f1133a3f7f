import { describe, expect, it } from 'vitest';
import {
  isKeepAliveFetchAnswer,
  isKeepAliveFetchMessage,
  KEEPALIVE_BODY_LIMIT,
  type KeepAliveFetchAnswer,
  type KeepAliveFetchMessage,
} from '../shared/page-worker/messages.ts';
import { KEEPALIVE_FETCH } from '../shared/page-worker/names.ts';
import { answerKeepalive, keepaliveRequest } from './keepalive-request.ts';

const ORIGIN = 'https://app.test';

const message = (over: Partial<KeepAliveFetchMessage> = {}): KeepAliveFetchMessage => ({
  type: KEEPALIVE_FETCH,
  url: `${ORIGIN}/keepalive?via=pagehide`,
  method: 'POST',
  headers: [['content-type', 'text/plain;charset=UTF-8']],
  body: new TextEncoder().encode('keepalive-from-pagehide').buffer as ArrayBuffer,
  credentials: 'same-origin',
  mode: 'cors',
  redirect: 'follow',
  referrer: `${ORIGIN}/keepalive-page`,
  ...over,
});

/** Answers on a real port pair; resolves with what the page would receive. */
async function answered(
  msg: KeepAliveFetchMessage,
  carrier: Parameters<typeof answerKeepalive>[3],
): Promise<KeepAliveFetchAnswer> {
  const channel = new MessageChannel();
  const got = new Promise<unknown>((resolve) => {
    channel.port1.onmessage = (e) => resolve(e.data);
  });
  await answerKeepalive(msg, channel.port2, ORIGIN, carrier);
  const data = await got;
  channel.port1.close();
  expect(isKeepAliveFetchAnswer(data)).toBe(true);
  return data as KeepAliveFetchAnswer;
}

describe('keepalive fetch message', () => {
  it('the guard takes a complete message within the body cap, and nothing else', () => {
    expect(isKeepAliveFetchMessage(message())).toBe(true);
    expect(isKeepAliveFetchMessage(message({ body: null }))).toBe(true);
    expect(
      isKeepAliveFetchMessage(message({ body: new ArrayBuffer(KEEPALIVE_BODY_LIMIT + 1) })),
    ).toBe(false);
    expect(isKeepAliveFetchMessage({ ...message(), type: 'zt/cookie-set' })).toBe(false);
    expect(isKeepAliveFetchMessage({ ...message(), headers: [['a']] })).toBe(false);
    expect(
      isKeepAliveFetchMessage({ ...message(), mode: 'navigate' as unknown as RequestMode }),
    ).toBe(false);
    expect(isKeepAliveFetchMessage(null)).toBe(false);
  });
});

describe('keepalive request', () => {
  it('is the request the page would have sent', async () => {
    const request = keepaliveRequest(message(), ORIGIN);
    expect(request.url).toBe(`${ORIGIN}/keepalive?via=pagehide`);
    expect(request.method).toBe('POST');
    expect(request.credentials).toBe('same-origin');
    expect(request.headers.get('content-type')).toBe('text/plain;charset=UTF-8');
    expect(await request.text()).toBe('keepalive-from-pagehide');
  });

  it('is carried and answered on the port with status, headers and body', async () => {
    const carried: string[] = [];
    const answer = await answered(message(), {
      tunnels: () => true,
      carry: async (url, request) => {
        carried.push(`${request.method} ${url.pathname}${url.search} ${await request.text()}`);
        return new Response('seen', { status: 202, headers: { 'x-app': '1' } });
      },
    });
    expect(carried).toEqual(['POST /keepalive?via=pagehide keepalive-from-pagehide']);
    expect(answer).toMatchObject({ ok: true, status: 202, statusText: '' });
    if (!answer.ok) throw new Error('not ok');
    expect(answer.headers).toContainEqual(['x-app', '1']);
    expect(new TextDecoder().decode(answer.body!)).toBe('seen');
  });

  it('refuses a URL the worker does not tunnel, without carrying it anywhere', async () => {
    let carried = false;
    const answer = await answered(message({ url: 'https://open.example/x' }), {
      tunnels: () => false,
      carry: async () => {
        carried = true;
        return new Response();
      },
    });
    expect(carried).toBe(false);
    expect(answer).toEqual({ ok: false, error: 'not a URL the worker tunnels' });
  });

  it('answers a failure of the tunnel as an error, and survives a page that is gone', async () => {
    const answer = await answered(message(), {
      tunnels: () => true,
      carry: async () => {
        throw new Error('tunnel down');
      },
    });
    expect(answer).toEqual({ ok: false, error: 'tunnel down' });
    const channel = new MessageChannel();
    channel.port1.close();
    await expect(
      answerKeepalive(message(), channel.port2, ORIGIN, {
        tunnels: () => true,
        carry: async () => new Response('late'),
      }),
    ).resolves.toBeUndefined();
  });
});
