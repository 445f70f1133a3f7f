/**
 * The mattermost-tunnel tests against Mattermost's own server (PostgreSQL + `mattermost` built by
 * mattermost/build-mattermost.sh, the demo chat UI as its webapp, strict CSRF), through the tunnel
 * on the fabric and on OpenZiti's network (`npm run test:e2e` and `test:real` build it first).
 */
import { tunnelTests } from './mattermost/tunnel-tests.ts';
import { test } from './support/fabric.ts';
import { mattermostUnavailable } from './support/mattermost.ts';

test.use({ darkApp: 'mattermost' });
test.beforeAll(() => {
  const unavailable = mattermostUnavailable();
  if (unavailable) throw new Error(unavailable);
});

// 64 MiB rather than the demo tier's 200 MiB keeps this slower tier short.
tunnelTests({ server: "Mattermost's own server", bigFileBytes: 64 * 1024 * 1024 });
