import { WebSocketClient } from '@mattermost/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  browserHeaders,
  firstChannelId,
  type Harness,
  type Login,
  login,
  startTestApp,
} from './_test/harness.ts';

let h: Harness;
let base: string;
let wsBase: string;

beforeAll(async () => {
  h = await startTestApp();
  base = h.app.url;
  wsBase = base.replace('http://', 'ws://');
});
afterAll(() => h.close());

interface Msg {
  event?: string;
  seq?: number;
  seq_reply?: number;
  status?: string;
  data?: Record<string, unknown>;
  broadcast?: Record<string, unknown>;
}

/** A raw socket that queues parsed messages so a test can await them in order. */
function open(url: string, headers: Record<string, string>) {
  const ws = new WebSocket(url, { headers });
  const queue: Msg[] = [];
  const waiters: ((m: Msg) => void)[] = [];
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as Msg;
    const w = waiters.shift();
    if (w) w(msg);
    else queue.push(msg);
  });
  const next = (timeoutMs = 2000) =>
    new Promise<Msg>((resolve, reject) => {
      const m = queue.shift();
      if (m) return resolve(m);
      const timer = setTimeout(() => reject(new Error('no message')), timeoutMs);
      waiters.push((msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
    });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
    ws.once('error', reject);
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return { ws, next, opened, closed };
}

function origin() {
  return { Origin: base, Host: new URL(base).host };
}

async function post(s: Login, channelId: string, message: string) {
  const res = await fetch(`${base}/api/v4/posts`, {
    method: 'POST',
    headers: browserHeaders(s, { 'Content-Type': 'application/json' }),
    body: JSON.stringify({ channel_id: channelId, message }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string };
}

describe('websocket', () => {
  it('refuses an Origin that does not match Host with 403', async () => {
    const s = await login(base);
    const c = open(`${wsBase}/api/v4/websocket`, {
      Cookie: s.cookie,
      Origin: 'http://evil.example',
    });
    await expect(c.opened).rejects.toThrow('status 403');
    const upgrade = h.app.requests.filter((r) => r.upgrade).at(-1)!;
    expect(upgrade.headers.origin).toBe('http://evil.example');
  });

  it('says hello first (seq 0) and answers ping with seq_reply', async () => {
    const s = await login(base);
    const c = open(`${wsBase}/api/v4/websocket?connection_id=&sequence_number=0`, {
      Cookie: s.cookie,
      ...origin(),
    });
    await c.opened;
    const hello = await c.next();
    expect(hello).toMatchObject({ event: 'hello', seq: 0, broadcast: { user_id: s.userId } });
    expect(hello.data?.connection_id).toMatch(/^[a-z0-9]{26}$/);
    c.ws.send(JSON.stringify({ action: 'ping', seq: 1 }));
    expect(await c.next()).toMatchObject({ status: 'OK', seq_reply: 1, data: { text: 'pong' } });
    c.ws.close();
  });

  it('without a cookie waits for authentication_challenge, then says hello', async () => {
    const s = await login(base);
    const c = open(`${wsBase}/api/v4/websocket`, origin());
    await c.opened;
    c.ws.send(JSON.stringify({ action: 'ping', seq: 1 }));
    expect(await c.next()).toMatchObject({ status: 'FAIL', seq_reply: 1 });
    c.ws.send(
      JSON.stringify({ action: 'authentication_challenge', seq: 2, data: { token: s.token } }),
    );
    expect(await c.next()).toMatchObject({ status: 'OK', seq_reply: 2 });
    expect(await c.next()).toMatchObject({ event: 'hello', seq: 0 });
    c.ws.close();
  });

  it('fans posted out to every member with consecutive seq numbers', async () => {
    const alice = await login(base);
    const bob = await login(base, 'bob');
    const channelId = await firstChannelId(base, alice);
    const a = open(`${wsBase}/api/v4/websocket`, { Cookie: alice.cookie, ...origin() });
    const b = open(`${wsBase}/api/v4/websocket`, { Cookie: bob.cookie, ...origin() });
    await Promise.all([a.opened, b.opened]);
    expect((await a.next()).event).toBe('hello');
    expect((await b.next()).event).toBe('hello');
    const p1 = await post(alice, channelId, 'one');
    const p2 = await post(bob, channelId, 'two');
    for (const c of [a, b]) {
      const m1 = await c.next();
      const m2 = await c.next();
      expect([m1.seq, m2.seq]).toEqual([1, 2]);
      expect(m1).toMatchObject({ event: 'posted', broadcast: { channel_id: channelId } });
      expect(JSON.parse(m1.data!.post as string)).toMatchObject({ id: p1.id, message: 'one' });
      expect(JSON.parse(m2.data!.post as string)).toMatchObject({ id: p2.id, message: 'two' });
      expect(m2.data!.sender_name).toBe('@bob');
    }
    a.ws.close();
    b.ws.close();
  });

  it('resumes a connection with connection_id + sequence_number, replaying missed events', async () => {
    const s = await login(base);
    const channelId = await firstChannelId(base, s);
    const first = open(`${wsBase}/api/v4/websocket?connection_id=&sequence_number=0`, {
      Cookie: s.cookie,
      ...origin(),
    });
    await first.opened;
    const hello = await first.next();
    first.ws.close();
    await first.closed;
    const missed = await post(s, channelId, 'while away');
    const id = hello.data!.connection_id as string;
    const again = open(`${wsBase}/api/v4/websocket?connection_id=${id}&sequence_number=1`, {
      Cookie: s.cookie,
      ...origin(),
    });
    await again.opened;
    const replay = await again.next();
    expect(replay).toMatchObject({ event: 'posted', seq: 1 });
    expect(JSON.parse(replay.data!.post as string).id).toBe(missed.id);
    // No hello on a lossless resume; numbering simply continues.
    const later = await post(s, channelId, 'after resume');
    const next = await again.next();
    expect(next).toMatchObject({ event: 'posted', seq: 2 });
    expect(JSON.parse(next.data!.post as string).id).toBe(later.id);
    again.ws.close();
    await again.closed;
    // A sequence number that was never kept starts over: new connection id, hello at seq 0.
    const lost = open(`${wsBase}/api/v4/websocket?connection_id=${id}&sequence_number=999`, {
      Cookie: s.cookie,
      ...origin(),
    });
    await lost.opened;
    const fresh = await lost.next();
    expect(fresh).toMatchObject({ event: 'hello', seq: 0 });
    expect(fresh.data!.connection_id).not.toBe(id);
    lost.ws.close();
  });

  it('closes the sockets of a session at logout', async () => {
    const s = await login(base);
    const c = open(`${wsBase}/api/v4/websocket`, { Cookie: s.cookie, ...origin() });
    await c.opened;
    await c.next();
    await fetch(`${base}/api/v4/users/logout`, { method: 'POST', headers: browserHeaders(s) });
    expect(await c.closed).toBe(1000);
  });

  it('works with @mattermost/client WebSocketClient (hello, seq tracking, ping)', async () => {
    const alice = await login(base);
    const channelId = await firstChannelId(base, alice);
    // The client reads WebSocket.OPEN from the global, which Node 20 does not define.
    const g = globalThis as { WebSocket?: unknown };
    const hadGlobal = 'WebSocket' in g;
    g.WebSocket ??= WebSocket;
    const client = new WebSocketClient({
      newWebSocketFn: (url: string) =>
        new WebSocket(url, { headers: { Cookie: alice.cookie, ...origin() } }) as never,
    });
    const events: Msg[] = [];
    const pong = new Promise<void>((resolve) => {
      client.addFirstConnectListener(() => {
        client.sendMessage('ping', undefined, () => resolve());
      });
    });
    const got = new Promise<void>((resolve) => {
      client.addMessageListener((msg) => {
        events.push(msg as Msg);
        if (msg.event === 'posted') resolve();
      });
    });
    client.initialize(`${wsBase}/api/v4/websocket`);
    await pong;
    await new Promise((r) => setTimeout(r, 50));
    await post(alice, channelId, 'to the client');
    await got;
    expect(events.map((e) => [e.event, e.seq])).toEqual([
      ['hello', 0],
      ['posted', 1],
    ]);
    // The client saw no sequence gap, so it never reconnected.
    expect((client as unknown as { serverSequence: number }).serverSequence).toBe(2);
    client.close();
    if (!hadGlobal) delete g.WebSocket;
  });
});
