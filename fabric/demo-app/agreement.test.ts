/**
 * The demo app against the suite Mattermost's own server also passes (mattermost/agreement.ts),
 * with the same Site URL.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGREEMENT_SITE_URL, describeAgreement } from '../../mattermost/agreement.ts';
import { startDemoApp } from './index.ts';

describeAgreement('fabric/demo-app', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'demo-agreement-'));
  const app = await startDemoApp({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    siteUrl: AGREEMENT_SITE_URL,
  });
  const teams = await fetch(`${app.url}/api/v4/users/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ login_id: 'alice', password: 'alice-demo-pass' }),
  });
  const token = teams.headers.get('token') ?? '';
  const auth = { Authorization: `BEARER ${token}` };
  const [team] = (await (
    await fetch(`${app.url}/api/v4/users/me/teams`, { headers: auth })
  ).json()) as {
    id: string;
  }[];
  const [channel] = (await (
    await fetch(`${app.url}/api/v4/users/me/teams/${team!.id}/channels`, { headers: auth })
  ).json()) as { id: string }[];
  return {
    url: app.url,
    channelId: channel!.id,
    async setStrictCsrf(strict) {
      app.settings.strictCsrf = strict;
    },
    async close() {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});
