/**
 * The Mattermost fidelity flows of mattermost.spec.ts, now with every request through the tunnel:
 * bootstrap login at the IdP, then the demo app (driven by @mattermost/client) over OpenZiti. The
 * same flow code runs directly against the app in mattermost.spec.ts, and through the tunnel against
 * Mattermost's own server in mattermost-real.spec.ts; the results must match.
 */
import { tunnelTests } from './mattermost/tunnel-tests.ts';
import { test } from './support/fabric.ts';

test.use({ darkApp: 'demo' });

tunnelTests({ server: 'fabric/demo-app', bigFileBytes: 200 * 1024 * 1024 });
