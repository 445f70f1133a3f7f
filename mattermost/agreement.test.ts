/**
 * Mattermost's own server against the suite the demo app also passes (agreement.ts): what the
 * demo app imitates, checked at the source. Needs the binary of build-mattermost.sh and PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGREEMENT_SITE_URL, describeAgreement } from './agreement.ts';
import { cachedMattermostBinary, postgresBinDir, startMattermost } from './server.ts';

describeAgreement('Mattermost server', async () => {
  const binary = cachedMattermostBinary();
  if (!binary) throw new Error('run mattermost/build-mattermost.sh first: the server is not built');
  if (!postgresBinDir()) throw new Error('PostgreSQL is not installed (Debian package postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'zt-mattermost-agreement-'));
  const mm = await startMattermost({
    binary,
    dir,
    siteUrl: AGREEMENT_SITE_URL,
    strictCsrf: true,
  });
  return {
    url: mm.url,
    channelId: mm.channels[0]!.id,
    async setStrictCsrf(strict) {
      await mm.local('PUT', '/api/v4/config/patch', {
        ServiceSettings: { ExperimentalStrictCSRFEnforcement: strict },
      });
    },
    async close() {
      await mm.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
