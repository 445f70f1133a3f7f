import { Client4 } from '@mattermost/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  browserHeaders,
  firstChannelId,
  type Harness,
  login,
  startTestApp,
} from './_test/harness.ts';

let h: Harness;
let base: string;

beforeAll(async () => {
  h = await startTestApp({ sessionLengthSeconds: 3600 });
  base = h.app.url;
});
afterAll(() => h.close());

async function rawLogin(headers: Record<string, string>, password = 'alice-demo-pass') {
  return fetch(`${base}/api/v4/users/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify({ login_id: 'alice', password }),
  });
}

describe('login', () => {
  it('returns the Token header but sets no cookie without X-Requested-With', async () => {
    const res = await rawLogin({});
    expect(res.status).toBe(200);
    expect(res.headers.get('token')).toMatch(/^[a-z0-9]{26}$/);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.username).toBe('alice');
    expect(body).not.toHaveProperty('password');
  });

  it('sets MMAUTHTOKEN (HttpOnly), MMUSERID and MMCSRF with X-Requested-With', async () => {
    const res = await rawLogin({ 'X-Requested-With': 'XMLHttpRequest' });
    const cookies = res.headers.getSetCookie();
    const byName = new Map(cookies.map((c) => [c.slice(0, c.indexOf('=')), c]));
    expect([...byName.keys()].sort()).toEqual(['MMAUTHTOKEN', 'MMCSRF', 'MMUSERID']);
    expect(byName.get('MMAUTHTOKEN')).toContain(`MMAUTHTOKEN=${res.headers.get('token')};`);
    expect(byName.get('MMAUTHTOKEN')).toMatch(/; HttpOnly/);
    expect(byName.get('MMUSERID')).not.toMatch(/HttpOnly/);
    expect(byName.get('MMCSRF')).not.toMatch(/HttpOnly/);
    for (const c of cookies) {
      expect(c).toMatch(/; Path=\//);
      expect(c).toMatch(/; Max-Age=3600/);
      expect(c).not.toMatch(/Secure/);
    }
  });

  it('marks cookies Secure only behind https (X-Forwarded-Proto)', async () => {
    const res = await rawLogin({
      'X-Requested-With': 'XMLHttpRequest',
      'X-Forwarded-Proto': 'https',
    });
    const cookies = res.headers.getSetCookie();
    expect(cookies).toHaveLength(3);
    for (const c of cookies) expect(c).toMatch(/; Secure/);
  });

  it('refuses a wrong password with Mattermost’s error id', async () => {
    const res = await rawLogin({ 'X-Requested-With': 'XMLHttpRequest' }, 'nope');
    expect(res.status).toBe(401);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(await res.json()).toMatchObject({
      id: 'api.user.login.invalid_credentials_email_username',
      status_code: 401,
    });
  });
});

describe('session token', () => {
  const me = (headers: Record<string, string>, query = '') =>
    fetch(`${base}/api/v4/users/me${query}`, { headers });

  it('accepts the cookie, a BEARER header or ?access_token, in that order', async () => {
    const s = await login(base);
    const other = await login(base, 'bob');
    expect((await me({ Cookie: `MMAUTHTOKEN=${s.token}` })).status).toBe(200);
    expect((await me({ Authorization: `BEARER ${s.token}` })).status).toBe(200);
    expect((await me({ Authorization: `Bearer ${s.token}` })).status).toBe(200);
    expect((await me({}, `?access_token=${s.token}`)).status).toBe(200);
    expect((await me({})).status).toBe(401);
    // The cookie wins over the header: bob's cookie with alice's header is bob.
    const both = await me({
      Cookie: `MMAUTHTOKEN=${other.token}`,
      Authorization: `BEARER ${s.token}`,
    });
    expect(((await both.json()) as { username: string }).username).toBe('bob');
    // An invalid cookie is not rescued by a valid header, and the cookies get cleared.
    const bad = await me({ Cookie: 'MMAUTHTOKEN=bogus', Authorization: `BEARER ${s.token}` });
    expect(bad.status).toBe(401);
    expect(bad.headers.getSetCookie().join('\n')).toMatch(/MMAUTHTOKEN=; Path=\/; Max-Age=0/);
    // The header wins over the query string.
    const hq = await me({ Authorization: 'BEARER bogus' }, `?access_token=${s.token}`);
    expect(hq.status).toBe(401);
  });
});

describe('session length', () => {
  it('ends the session and the cookies after sessionLengthSeconds', async () => {
    const short = await startTestApp({ sessionLengthSeconds: 1 });
    try {
      const s = await login(short.app.url);
      const me = () => fetch(`${short.app.url}/api/v4/users/me`, { headers: { Cookie: s.cookie } });
      expect((await me()).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await me()).status).toBe(401);
    } finally {
      await short.close();
    }
  });
});

describe('CSRF (strict)', () => {
  const post = (headers: Record<string, string>, channelId: string) =>
    fetch(`${base}/api/v4/posts`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify({ channel_id: channelId, message: 'csrf check' }),
    });

  it('refuses cookie-authenticated writes without the right X-CSRF-Token', async () => {
    const s = await login(base);
    const channelId = await firstChannelId(base, s);
    const noHeader = await post(
      { Cookie: s.cookie, 'X-Requested-With': 'XMLHttpRequest' },
      channelId,
    );
    expect(noHeader.status).toBe(401);
    expect(await noHeader.json()).toMatchObject({
      id: 'api.context.session_expired.app_error',
      detailed_error: 'Appears to be a CSRF attempt',
    });
    const wrong = await post(browserHeaders(s, { 'X-CSRF-Token': 'x'.repeat(26) }), channelId);
    expect(wrong.status).toBe(401);
    const right = await post(browserHeaders(s), channelId);
    expect(right.status).toBe(201);
    // GET needs no CSRF header, and a header token is not subject to CSRF.
    const get = await fetch(`${base}/api/v4/users/me`, { headers: { Cookie: s.cookie } });
    expect(get.status).toBe(200);
    expect((await post({ Authorization: `BEARER ${s.token}` }, channelId)).status).toBe(201);
    // Nothing was posted by the refused requests.
    const list = (await (
      await fetch(`${base}/api/v4/channels/${channelId}/posts`, { headers: browserHeaders(s) })
    ).json()) as { order: string[] };
    expect(list.order).toHaveLength(2);
  });

  it('logout needs the CSRF header too, then expires MMAUTHTOKEN and revokes the session', async () => {
    const s = await login(base);
    const refused = await fetch(`${base}/api/v4/users/logout`, {
      method: 'POST',
      headers: { Cookie: s.cookie },
    });
    expect(refused.status).toBe(401);
    expect((await fetch(`${base}/api/v4/users/me`, { headers: { Cookie: s.cookie } })).status).toBe(
      200,
    );
    const out = await fetch(`${base}/api/v4/users/logout`, {
      method: 'POST',
      headers: browserHeaders(s),
    });
    expect(out.status).toBe(200);
    // As Mattermost: only MMAUTHTOKEN is expired; MMUSERID and MMCSRF stay.
    expect(out.headers.getSetCookie()).toEqual(['MMAUTHTOKEN=; Path=/; Max-Age=0; HttpOnly']);
    expect((await fetch(`${base}/api/v4/users/me`, { headers: { Cookie: s.cookie } })).status).toBe(
      401,
    );
  });
});

describe('driven by @mattermost/client Client4', () => {
  it('logs in, lists teams/channels, posts and reads posts back', async () => {
    const client = new Client4();
    client.setUrl(base);
    const me = await client.login('bob', 'bob-demo-pass');
    expect(me.username).toBe('bob');
    expect(client.getToken()).toMatch(/^[a-z0-9]{26}$/);
    expect((await client.getMe()).id).toBe(me.id);
    const [team] = await client.getMyTeams();
    const channels = await client.getMyChannels(team!.id);
    expect(channels.map((c) => c.name)).toEqual(['town-square', 'off-topic']);
    const channel = channels[1]!;
    const created = await client.createPost({
      channel_id: channel.id,
      message: 'hello from Client4',
    } as never);
    expect(created).toMatchObject({
      channel_id: channel.id,
      user_id: me.id,
      message: 'hello from Client4',
    });
    const list = await client.getPosts(channel.id);
    expect(list.order[0]).toBe(created.id);
    expect(list.posts[created.id]!.message).toBe('hello from Client4');
    // Plugins are off: Mattermost answers 501.
    await expect(client.getWebappPlugins()).rejects.toMatchObject({ status_code: 501 });
    const config = (await client.getClientConfig()) as unknown as Record<string, string>;
    expect(config.DemoLoginHint).toContain('alice / alice-demo-pass');
    const profiles = await client.getProfilesByIds([me.id]);
    expect(profiles.map((p) => p.username)).toEqual(['bob']);
    await client.logout();
    await expect(client.getMe()).rejects.toMatchObject({ status_code: 401 });
  });

  it('answers unknown API paths with a JSON 404 and records every request', async () => {
    const before = h.app.requests.length;
    const res = await fetch(`${base}/api/v4/nope?x=1`, {
      headers: { 'X-Requested-With': 'XMLHttpRequest' },
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ id: 'api.context.404.app_error', status_code: 404 });
    const rec = h.app.requests.at(-1)!;
    expect(h.app.requests.length).toBe(before + 1);
    expect(rec).toMatchObject({
      method: 'GET',
      url: '/api/v4/nope?x=1',
      remoteAddress: '127.0.0.1',
      upgrade: false,
    });
    expect(rec.headers['x-requested-with']).toBe('XMLHttpRequest');
  });
});
