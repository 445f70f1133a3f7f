import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DemoApp, type DemoAppOptions, startDemoApp } from '../../index.ts';

export interface Harness {
  app: DemoApp;
  dataDir: string;
  close(): Promise<void>;
}

/** Starts an app on 127.0.0.1:0 with a fresh data folder. */
export async function startTestApp(options: Partial<DemoAppOptions> = {}): Promise<Harness> {
  const dataDir = await mkdtemp(join(tmpdir(), 'demo-app-test-'));
  const app = await startDemoApp({ host: '127.0.0.1', port: 0, dataDir, ...options });
  return {
    app,
    dataDir,
    async close() {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Login {
  token: string;
  csrf: string;
  userId: string;
  cookie: string;
}

/** Logs in as a browser would (X-Requested-With) and returns the session cookie values. */
export async function login(
  base: string,
  user = 'alice',
  password = `${user}-demo-pass`,
): Promise<Login> {
  const res = await fetch(`${base}/api/v4/users/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'XMLHttpRequest' },
    body: JSON.stringify({ login_id: user, password }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
  const jar = new Map<string, string>();
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const eq = pair!.indexOf('=');
    jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
  }
  return {
    token: res.headers.get('token')!,
    csrf: jar.get('MMCSRF')!,
    userId: jar.get('MMUSERID')!,
    cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
  };
}

/** Headers of a cookie-authenticated browser request with the CSRF header. */
export function browserHeaders(session: Login, extra: Record<string, string> = {}) {
  return {
    Cookie: session.cookie,
    'X-Requested-With': 'XMLHttpRequest',
    'X-CSRF-Token': session.csrf,
    ...extra,
  };
}

export async function firstChannelId(base: string, session: Login): Promise<string> {
  const teams = (await (
    await fetch(`${base}/api/v4/users/me/teams`, { headers: browserHeaders(session) })
  ).json()) as { id: string }[];
  const channels = (await (
    await fetch(`${base}/api/v4/users/me/teams/${teams[0]!.id}/channels`, {
      headers: browserHeaders(session),
    })
  ).json()) as { id: string }[];
  return channels[0]!.id;
}
